//! DISM's command-line syntax: `/Name`, `/Name:value` or `/Name=value`, any case, any order.

use crate::error::DismError;

/// One option as given: its name without the slash, and its value if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawOption {
    pub name: String,
    pub value: Option<String>,
    /// The token as typed, for error messages.
    pub token: String,
}

/// Splits the arguments into options. Every token must start with `/`; the
/// value separator is the first `:` or `=` (so `/ImageFile:C:\x.wim` keeps its colon).
pub fn tokenize<I: IntoIterator<Item = String>>(args: I) -> Result<Vec<RawOption>, DismError> {
    args.into_iter()
        .map(|token| {
            let Some(body) = token.strip_prefix('/') else {
                return Err(DismError::unknown_option(&token));
            };
            let (name, value) = match body.find([':', '=']) {
                Some(i) => (&body[..i], Some(body[i + 1..].to_string())),
                None => (body, None),
            };
            if name.is_empty() {
                return Err(DismError::unknown_option(&token));
            }
            Ok(RawOption {
                name: name.to_string(),
                value,
                token: token.clone(),
            })
        })
        .collect()
}

/// Whether an option takes a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Takes {
    Flag,
    Value,
}

/// An option a command (or every command) accepts.
#[derive(Debug, Clone, Copy)]
pub struct OptionSpec {
    pub name: &'static str,
    pub takes: Takes,
}

pub const fn flag(name: &'static str) -> OptionSpec {
    OptionSpec {
        name,
        takes: Takes::Flag,
    }
}

pub const fn value(name: &'static str) -> OptionSpec {
    OptionSpec {
        name,
        takes: Takes::Value,
    }
}

/// The options of one invocation after checking them against the command's specs.
#[derive(Debug, Default, Clone)]
pub struct Options {
    given: Vec<(&'static str, Option<String>)>,
}

impl Options {
    /// Checks `raw` against `specs`: unknown, repeated, and value-less options
    /// that need a value are errors 87, as in dism.exe.
    pub fn check(raw: &[RawOption], specs: &[&[OptionSpec]]) -> Result<Self, DismError> {
        let mut given: Vec<(&'static str, Option<String>)> = Vec::new();
        for opt in raw {
            let spec = specs
                .iter()
                .flat_map(|s| s.iter())
                .find(|s| s.name.eq_ignore_ascii_case(&opt.name))
                .ok_or_else(|| DismError::unknown_option(&opt.token))?;
            if given.iter().any(|(n, _)| *n == spec.name) {
                return Err(DismError::new(
                    crate::error::code::INVALID_PARAMETER,
                    format!(
                        "The /{} option was given more than once. {}",
                        spec.name,
                        crate::error::HELP_HINT
                    ),
                ));
            }
            match (spec.takes, &opt.value) {
                (Takes::Flag, Some(_)) => return Err(DismError::unknown_option(&opt.token)),
                (Takes::Value, None) => return Err(DismError::missing_argument(spec.name)),
                (Takes::Value, Some(v)) if v.is_empty() => {
                    return Err(DismError::missing_argument(spec.name))
                }
                _ => {}
            }
            given.push((spec.name, opt.value.clone()));
        }
        Ok(Self { given })
    }

    pub fn has(&self, name: &str) -> bool {
        self.given.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.given
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.as_deref())
    }

    /// A value the command cannot do without.
    pub fn require(&self, name: &str) -> Result<&str, DismError> {
        self.get(name)
            .ok_or_else(|| DismError::missing_argument(name))
    }

    /// The same options with some renamed (`/SourceIndex` read as `/Index`, ...),
    /// for helpers written for the plain names.
    pub fn renamed(&self, pairs: &[(&'static str, &'static str)]) -> Options {
        let given = self
            .given
            .iter()
            .map(|(n, v)| {
                let name = pairs
                    .iter()
                    .find(|(from, _)| from.eq_ignore_ascii_case(n))
                    .map_or(*n, |(_, to)| *to);
                (name, v.clone())
            })
            .collect();
        Options { given }
    }

    /// A number, or error 87 naming the option.
    pub fn number<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, DismError> {
        self.get(name)
            .map(|v| v.parse().map_err(|_| DismError::invalid_argument(v, name)))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(args: &[&str]) -> Vec<RawOption> {
        tokenize(args.iter().map(|s| s.to_string())).unwrap()
    }

    const SPECS: &[OptionSpec] = &[value("ImageFile"), value("Index"), flag("Verify")];

    #[test]
    fn separators_case_and_order() {
        let o = Options::check(
            &raw(&["/index=2", "/IMAGEFILE:C:\\x.wim", "/verify"]),
            &[SPECS],
        )
        .unwrap();
        assert_eq!(o.get("ImageFile"), Some("C:\\x.wim"));
        assert_eq!(o.number::<u32>("Index").unwrap(), Some(2));
        assert!(o.has("Verify"));
    }

    #[test]
    fn errors_are_87() {
        for bad in [
            &["/Nope"][..],
            &["/Index:1", "/index:2"],
            &["/Index"],
            &["/Verify:yes"],
            &["plain"],
            &["/ImageFile:"],
        ] {
            let err = tokenize(bad.iter().map(|s| s.to_string()))
                .and_then(|r| Options::check(&r, &[SPECS]))
                .unwrap_err();
            assert_eq!(err.code, 87, "{bad:?}");
        }
        let o = Options::check(&raw(&["/Index:x"]), &[SPECS]).unwrap();
        assert!(o
            .number::<u32>("Index")
            .unwrap_err()
            .message
            .contains("The x argument given for the /Index option is invalid"));
    }
}
