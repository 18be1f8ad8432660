pub mod data;
pub mod libwim;
