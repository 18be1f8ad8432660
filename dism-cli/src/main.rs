//! `dism`: a thin binary over the `dism_cli` library.
#![forbid(unsafe_code)]

use std::process::ExitCode;

fn main() -> ExitCode {
    let argv = std::env::args().skip(1).collect();
    // Not a held StdoutLock: progress bars print from worker threads.
    let status = dism_cli::run(argv, &mut std::io::stdout());
    ExitCode::from(status)
}
