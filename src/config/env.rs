//! The one reader of the environment, for the configuration, the logging and every door. A
//! variable that is empty or only whitespace counts as unset, as container specs often template
//! variables to `""`; a value that cannot be read stops start-up with an [`Error::Config`] that
//! names its variable.

use crate::error::Error;

/// The environment, read through a lookup function: the process's at start-up, a map in tests,
/// so no test ever mutates the process's environment.
pub struct Env<'a> {
    lookup: Box<Lookup<'a>>,
}

/// A variable's value by its name, if it is set.
type Lookup<'a> = dyn Fn(&str) -> Option<String> + 'a;

impl<'a> Env<'a> {
    /// The variables `lookup` gives.
    pub fn new(lookup: impl Fn(&str) -> Option<String> + 'a) -> Self {
        Env {
            lookup: Box::new(lookup),
        }
    }

    /// The value of `name`, or `None` when it is unset or blank. Not trimmed: a password may
    /// hold spaces; the parsers trim what they read.
    pub fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|value| !value.trim().is_empty())
    }

    /// Whether `name` is set to something other than blanks.
    pub fn is_set(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The value of `name`, or `default` when it is unset or blank.
    pub fn get_or(&self, name: &str, default: &str) -> String {
        self.get(name).unwrap_or_else(|| default.to_string())
    }

    /// `variable` read by `parse`, which is given the value trimmed and says what is wrong with
    /// it; `None` when the variable is unset or blank.
    pub fn parse<T>(
        &self,
        variable: &'static str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>, Error> {
        self.get(variable)
            .map(|text| parse(text.trim()).map_err(|reason| Error::config(variable, reason)))
            .transpose()
    }

    /// The process's own environment.
    pub fn process() -> Env<'static> {
        Env::new(|name| std::env::var(name).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_is_unset_and_a_bad_value_names_its_variable() {
        let env = Env::new(|name| match name {
            "EMPTY" => Some(String::new()),
            "SPACES" => Some("  ".into()),
            "PORT" => Some(" 80x ".into()),
            "PASSWORD" => Some(" a b ".into()),
            _ => None,
        });
        for name in ["EMPTY", "SPACES", "MISSING"] {
            assert_eq!(env.get(name), None, "{name}");
            assert_eq!(env.get_or(name, "d"), "d", "{name}");
        }
        assert_eq!(env.get("PASSWORD").as_deref(), Some(" a b "));
        let seen = env.parse("PORT", |text| {
            Err::<u16, _>(format!("{text:?} is not a port"))
        });
        assert!(
            matches!(&seen, Err(Error::Config { variable: "PORT", reason }) if reason == "\"80x\" is not a port"),
            "{seen:?}"
        );
        assert_eq!(env.parse("EMPTY", |_| Ok::<_, String>(1)).unwrap(), None);
    }
}
