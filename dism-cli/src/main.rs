//! `dism`: a thin binary over the `dism_cli` library.
#![forbid(unsafe_code)]

use std::process::ExitCode;

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    // The mount server `/Mount-Image` starts (not a command of its own).
    #[cfg(target_os = "linux")]
    if argv.first().map(String::as_str) == Some(dism_cli::commands::mount_server::SERVER_ARG) {
        return ExitCode::from(dism_cli::commands::mount_server::main(&argv[1..]));
    }
    // Not a held StdoutLock: progress bars print from worker threads.
    let status = dism_cli::run(argv, &mut std::io::stdout());
    ExitCode::from(status)
}
