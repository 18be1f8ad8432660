pub mod data;
pub mod libwim;
pub mod tmp;
pub mod tree;
