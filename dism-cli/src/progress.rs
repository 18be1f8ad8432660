//! DISM's progress bar: 60 columns, the percentage centred over the `=` fill.
//! Redrawn in place on a terminal; one line per 10% step when redirected.

use std::io::{IsTerminal, Write};

const INSIDE: usize = 58;

/// `[=====                      10.0%                          ]`
pub fn bar(percent: f64) -> String {
    let percent = percent.clamp(0.0, 100.0);
    let fill = ((percent * INSIDE as f64 / 100.0).floor() as usize).min(INSIDE);
    let mut cells: Vec<char> = (0..INSIDE)
        .map(|i| if i < fill { '=' } else { ' ' })
        .collect();
    let text = format!("{percent:.1}%");
    // The text ends at column 32 whatever its width, as dism.exe draws it.
    let start = 32 - text.len();
    for (i, c) in text.chars().enumerate() {
        cells[start + i] = c;
    }
    format!("[{}]", cells.into_iter().collect::<String>())
}

pub struct Progress {
    terminal: bool,
    quiet: bool,
    shown: Option<u64>,
}

impl Progress {
    /// Starts a bar under `label` (`Applying image`, ...).
    pub fn start(label: &str, quiet: bool) -> Progress {
        let terminal = std::io::stdout().is_terminal();
        if !quiet {
            println!("{label}");
        }
        Progress {
            terminal,
            quiet,
            shown: None,
        }
    }

    pub fn update(&mut self, done: u64, total: u64) {
        if self.quiet {
            return;
        }
        let permille = if total == 0 {
            1000
        } else {
            (done.min(total) as u128 * 1000 / total as u128) as u64
        };
        // On a terminal redraw at each 0.1%; redirected, print each 10% once.
        let step = if self.terminal {
            permille
        } else {
            permille / 100 * 100
        };
        if self.shown == Some(step) {
            return;
        }
        self.shown = Some(step);
        let line = bar(step as f64 / 10.0);
        let mut out = std::io::stdout().lock();
        let _ = if self.terminal {
            write!(out, "\r{line}")
        } else {
            writeln!(out, "{line}")
        };
        let _ = out.flush();
    }

    pub fn finish(mut self) {
        self.update(1, 1);
        if self.terminal && !self.quiet {
            println!();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::bar;

    #[test]
    fn matches_dism_drawing() {
        assert_eq!(
            bar(10.0),
            "[=====                      10.0%                          ]"
        );
        assert_eq!(
            bar(100.0),
            "[==========================100.0%==========================]"
        );
        assert_eq!(
            bar(0.0),
            "[                            0.0%                          ]"
        );
        assert_eq!(bar(100.0).len(), 60);
        assert_eq!(bar(55.5).len(), 60);
    }
}
