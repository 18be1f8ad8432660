//! `dism`: DISM's command line for WIM files, on any OS.
//!
//! The frame every command shares: DISM's option syntax, header, success line,
//! `Error: <code>` output with the log path, exit status, log file and help.
#![forbid(unsafe_code)]

pub mod args;
pub mod commands;
pub mod error;
pub mod log;
pub mod open;
pub mod progress;
pub mod time;

use std::io::Write;

use args::{Options, RawOption};
use commands::{Command, Context, COMMANDS, GLOBAL_OPTIONS};
use error::{code, DismError};
use log::Log;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

fn header(out: &mut dyn Write) {
    let _ = writeln!(
        out,
        "\nDeployment Image Servicing and Management tool\nVersion: {VERSION} (wimkit)\n"
    );
}

/// Runs one dism command line (without the program name), writing what dism
/// prints to `out`. Returns the process exit status.
pub fn run(argv: Vec<String>, out: &mut dyn Write) -> u8 {
    let quiet = argv.iter().any(|a| a.eq_ignore_ascii_case("/quiet"));
    if !quiet {
        header(out);
    }
    let mut log = Log::disabled();
    match dispatch(argv, out, &mut log, quiet) {
        Ok(()) => {
            if !quiet {
                let _ = writeln!(out, "The operation completed successfully.");
            }
            0
        }
        Err(e) => {
            log.error(&format!("{}: {}", e.code_text(), e.message));
            let _ = writeln!(out, "{e}\n");
            if !log.path().as_os_str().is_empty() {
                let _ = writeln!(
                    out,
                    "The DISM log file can be found at {}",
                    log.path().display()
                );
            }
            e.exit_status()
        }
    }
}

fn dispatch(
    argv: Vec<String>,
    out: &mut dyn Write,
    log: &mut Log,
    quiet: bool,
) -> Result<(), DismError> {
    let help = argv.last().is_some_and(|a| a == "/?" || a == "-?");
    let raw = args::tokenize(argv.into_iter().filter(|a| a != "/?" && a != "-?"))?;
    let (command, rest) = split_command(&raw)?;
    if help {
        write_help(out, command);
        return Ok(());
    }
    let Some(command) = command else {
        if raw.is_empty() {
            write_help(out, None);
            return Ok(());
        }
        return Err(DismError::new(
            code::INVALID_PARAMETER,
            format!("No servicing command was given. {}", error::HELP_HINT),
        ));
    };
    let options = Options::check(&rest, &[GLOBAL_OPTIONS, command.options])?;
    *log = Log::open(options.get("LogPath"), options.get("LogLevel"))?;
    log.info("<----- Starting Dism.exe session ----->");
    log.info(&format!(
        "Executing command line: dism {}",
        raw.iter()
            .map(|r| r.token.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    ));
    let threads = options.number::<usize>("Threads")?;
    if threads == Some(0) {
        return Err(DismError::invalid_argument("0", "Threads"));
    }
    let mut ctx = Context {
        out,
        log,
        quiet,
        threads,
    };
    let result = (command.run)(&mut ctx, &options);
    ctx.log.info("<----- Ending Dism.exe session ----->");
    result
}

/// Finds the one servicing command among the options; two is an error, as dism.exe allows one per line.
fn split_command(
    raw: &[RawOption],
) -> Result<(Option<&'static Command>, Vec<RawOption>), DismError> {
    let mut command = None;
    let mut rest = Vec::new();
    for opt in raw {
        match COMMANDS.iter().find(|c| c.is(&opt.name)) {
            Some(c) if opt.value.is_none() => {
                if command.is_some() {
                    return Err(DismError::new(
                        code::INVALID_PARAMETER,
                        format!(
                            "Only one servicing command can be given per line. {}",
                            error::HELP_HINT
                        ),
                    ));
                }
                command = Some(c);
            }
            _ => rest.push(opt.clone()),
        }
    }
    Ok((command, rest))
}

fn write_help(out: &mut dyn Write, command: Option<&Command>) {
    let _ = match command {
        Some(c) => writeln!(out, "{}\n", c.help),
        None => {
            let mut text = String::from("DISM.exe [dism_options] {Imaging_command} [<Imaging_arguments>]\n\nIMAGE COMMANDS:\n\n");
            for c in COMMANDS {
                text.push_str(&format!("  /{:<24} - {}\n", c.name, c.summary));
            }
            text.push_str(
                "\nDISM OPTIONS:\n\n  /LogPath:<file>          - Log file (default: /var/log/dism/dism.log for root, else\n                             $XDG_STATE_HOME/dism/dism.log).\n  /LogLevel:<1-4>          - 1 errors, 2 and warnings, 3 and information (default), 4 and debug.\n  /ScratchDir:<dir>        - Directory for temporary files.\n  /Quiet                   - Errors only: no information or progress.\n  /Threads:<n>             - Use at most n threads (1 = one core; default: all cores).\n\nFor help on a command, give it followed by /?, e.g. dism /Apply-Image /?.\n",
            );
            writeln!(out, "{text}")
        }
    };
}
