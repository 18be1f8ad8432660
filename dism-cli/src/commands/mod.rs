//! The servicing commands: each declares its options, its help and what it runs.

use std::io::Write;

use crate::args::{flag, value, OptionSpec, Options};
use crate::error::DismError;
use crate::log::Log;

/// What a command runs with.
pub struct Context<'a> {
    pub out: &'a mut dyn Write,
    pub log: &'a mut Log,
    pub quiet: bool,
    /// `/Threads:N` (1 = one core); `None` uses every core.
    pub threads: Option<usize>,
}

pub struct Command {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub summary: &'static str,
    /// The syntax line and the options, shown by `dism /<name> /?`.
    pub help: &'static str,
    pub options: &'static [OptionSpec],
    pub run: fn(&mut Context, &Options) -> Result<(), DismError>,
}

impl Command {
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
            || self.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    }
}

/// Options every command accepts.
pub const GLOBAL_OPTIONS: &[OptionSpec] = &[
    value("LogPath"),
    value("LogLevel"),
    value("ScratchDir"),
    flag("Quiet"),
    flag("English"),
    value("Format"),
    flag("NoRestart"),
    value("Threads"),
];

/// Every command this dism knows. Commands land here as they are implemented.
pub static COMMANDS: &[Command] = &[];

pub fn find(name: &str) -> Option<&'static Command> {
    COMMANDS.iter().find(|c| c.is(name))
}
