//! `dism`: a thin binary over the `dism_cli` library.
#![forbid(unsafe_code)]

use std::process::ExitCode;

fn main() -> ExitCode {
    let argv = std::env::args().skip(1).collect();
    let status = dism_cli::run(argv, &mut std::io::stdout().lock());
    ExitCode::from(status)
}
