//! `dism`: Deployment Image Servicing and Management for WIM files, on any OS.
//!
//! The command frame lands with issue 3; until then the binary only answers `/?`.
#![forbid(unsafe_code)]

use std::process::ExitCode;

const HEADER: &str = "\nDeployment Image Servicing and Management tool\nVersion: wimkit 0.1.0\n";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    println!("{HEADER}");
    if args.iter().any(|a| a == "/?" || a == "-?") {
        println!("No servicing commands are implemented yet.");
        return ExitCode::SUCCESS;
    }
    let first = args.first().map(String::as_str).unwrap_or("");
    println!("Error: 87\n\nDISM doesn't recognize the command-line option \"{first}\". For more information, refer to the help by running DISM.exe /?.\n");
    ExitCode::from(87)
}
