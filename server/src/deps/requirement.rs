//! A dependency as the product accepts it: a PyPI package name and an optional PEP 440 version
//! specifier set, nothing else. Parsed by `pep508_rs`/`pep440_rs` (the parsers uv is built on),
//! then narrowed: no URLs, markers, extras or options, and only the characters such names and
//! specifiers can hold, so whatever passes is safe as one argv entry of `uv`.

use std::str::FromStr;

use app::validate::Invalid;
use pep508_rs::pep440_rs::{Version, VersionSpecifiers};
use pep508_rs::{PackageName, VerbatimUrl, VersionOrUrl};

pub const NAME_MAX: usize = 100;
pub const SPEC_MAX: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// Normalised per PEP 503 (`Foo_Bar` → `foo-bar`).
    pub name: String,
    /// Normalised specifier set (`>=2.0, <3`), empty for "any version".
    pub spec: String,
    specifiers: VersionSpecifiers,
}

fn invalid(field: &'static str, message: String) -> Invalid {
    Invalid { field, message }
}

impl Requirement {
    /// A name and a specifier typed separately (the API and the page).
    pub fn new(name: &str, version_spec: &str) -> Result<Requirement, Invalid> {
        let name = name.trim();
        let shown = name.escape_default();
        if name.is_empty() {
            return Err(invalid("name", "the package name is empty".into()));
        }
        if name.len() > NAME_MAX {
            return Err(invalid("name", format!("a package name has at most {NAME_MAX} characters")));
        }
        if name.starts_with('-') {
            return Err(invalid("name", format!("`{shown}` looks like an option: only package names are accepted")));
        }
        if let Some(bad) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))) {
            let what = match bad {
                '/' | '\\' => "a path".to_string(),
                ':' | '@' => "a URL".to_string(),
                '[' | ']' => "extras, which are not supported".to_string(),
                ';' => "an environment marker, which is not supported".to_string(),
                '<' | '>' | '=' | '!' | '~' => "a version: put it in the version field".to_string(),
                c => format!("the character `{}`", c.escape_default()),
            };
            return Err(invalid("name", format!("`{shown}` is not a package name: it contains {what}")));
        }
        let package = PackageName::from_str(name).map_err(|err| invalid("name", format!("`{shown}` is not a package name: {err}")))?;

        let spec = version_spec.trim();
        if spec.len() > SPEC_MAX {
            return Err(invalid("version_spec", format!("a version specifier has at most {SPEC_MAX} characters")));
        }
        if let Some(bad) = spec.chars().find(|c| !(c.is_ascii_alphanumeric() || " .*!=<>~+,".contains(*c))) {
            return Err(invalid(
                "version_spec",
                format!(
                    "`{}` is not a version specifier: `{}` has no place in one (write e.g. `>=2.0,<3` or `==1.4.*`)",
                    spec.escape_default(),
                    bad.escape_default()
                ),
            ));
        }
        // A bare version is what people type most; it means exactly that version.
        let spec = if spec.chars().next().is_some_and(|c| c.is_ascii_digit()) { format!("=={spec}") } else { spec.to_string() };
        let specifiers = VersionSpecifiers::from_str(&spec)
            .map_err(|err| invalid("version_spec", format!("`{}` is not a version specifier: {err}", spec.escape_default())))?;
        // The whole requirement through the PEP 508 parser too, so uv reads exactly this.
        let line = format!("{package}{specifiers}");
        let parsed = pep508_rs::Requirement::<VerbatimUrl>::from_str(&line)
            .map_err(|err| invalid("version_spec", format!("`{line}` is not a requirement: {err}")))?;
        debug_assert!(parsed.extras.is_empty() && parsed.marker.is_true());
        Ok(Requirement { name: package.to_string(), spec: specifiers.to_string(), specifiers })
    }

    /// One PEP 508 line (a PEP 723 header entry, a pasted `name>=1`): the same rules.
    pub fn parse_line(line: &str) -> Result<Requirement, Invalid> {
        let text = line.trim();
        let shown = text.escape_default();
        // pep508_rs 0.9.2 panics on a name ending in `.-_` followed by more text (`A-[`; found
        // by the property test below), so such a name is refused before it gets there.
        let name_end = text.find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))).unwrap_or(text.len());
        if text[..name_end].ends_with(['.', '-', '_']) {
            return Err(invalid("requirement", format!("`{shown}` is not a requirement: a package name ends with a letter or digit")));
        }
        let parsed = pep508_rs::Requirement::<VerbatimUrl>::from_str(text)
            .map_err(|err| invalid("requirement", format!("`{shown}` is not a requirement: {err}")))?;
        if !parsed.extras.is_empty() {
            return Err(invalid("requirement", format!("`{shown}`: extras (`[...]`) are not supported")));
        }
        if !parsed.marker.is_true() {
            return Err(invalid("requirement", format!("`{shown}`: environment markers (`; ...`) are not supported")));
        }
        let spec = match &parsed.version_or_url {
            None => String::new(),
            Some(VersionOrUrl::VersionSpecifier(specifiers)) => specifiers.to_string(),
            Some(VersionOrUrl::Url(_)) => {
                return Err(invalid("requirement", format!("`{shown}`: URLs are not supported, only PyPI packages")));
            }
        };
        Requirement::new(parsed.name.as_ref(), &spec).map_err(|err| Invalid { field: "requirement", ..err })
    }

    /// The argument given to `uv pip install`.
    pub fn to_arg(&self) -> String {
        format!("{}{}", self.name, self.spec)
    }

    /// Whether an installed version meets the specifier (an unreadable version does not).
    pub fn is_satisfied_by(&self, version: &str) -> bool {
        Version::from_str(version).is_ok_and(|v| self.specifiers.contains(&v))
    }
}

/// PEP 503 normalisation of a name as uv reports it, to match it with a requirement.
pub fn normalize(name: &str) -> String {
    PackageName::from_str(name).map(|n| n.to_string()).unwrap_or_else(|_| name.to_lowercase())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn accepts_names_and_specifiers_normalised() {
        let r = Requirement::new(" Typing_Extensions ", ">= 4.0 , <5").unwrap();
        assert_eq!((r.name.as_str(), r.spec.as_str()), ("typing-extensions", ">=4.0, <5"));
        assert_eq!(r.to_arg(), "typing-extensions>=4.0, <5");
        assert!(r.is_satisfied_by("4.12.2") && !r.is_satisfied_by("5.0") && !r.is_satisfied_by("nonsense"));
        assert_eq!(Requirement::new("six", "").unwrap().spec, "");
        assert_eq!(Requirement::new("six", "1.16.0").unwrap().spec, "==1.16.0");
        assert_eq!(Requirement::new("idna", "~=3.4").unwrap().spec, "~=3.4");
        assert_eq!(Requirement::parse_line("Requests>=2,<3").unwrap().to_arg(), "requests>=2, <3");
    }

    #[test]
    fn refuses_what_is_not_a_plain_pypi_requirement() {
        for (name, spec, field) in [
            ("", "", "name"),
            ("-r", "", "name"),
            ("--index-url", "", "name"),
            ("../evil", "", "name"),
            ("/etc/passwd", "", "name"),
            ("six; rm -rf /", "", "name"),
            ("six$(id)", "", "name"),
            ("six[extra]", "", "name"),
            ("git+https://x/y", "", "name"),
            ("six>=1", "", "name"),
            ("six", ">=1; python_version<'3'", "version_spec"),
            ("six", ">=banana", "version_spec"),
            ("six", "`id`", "version_spec"),
            ("six", "=>1", "version_spec"),
            ("six", &"1".repeat(SPEC_MAX + 1), "version_spec"),
            (&"a".repeat(NAME_MAX + 1), "", "name"),
        ] {
            let err = Requirement::new(name, spec).expect_err(name);
            assert_eq!(err.field, field, "{name} {spec}: {err:?}");
            assert!(!err.message.is_empty());
        }
        for line in ["six[x]", "six; python_version > '3'", "six @ https://example.com/six.whl", "-r x.txt", ""] {
            assert!(Requirement::parse_line(line).is_err(), "{line}");
        }
    }

    proptest! {
        #[test]
        fn nothing_dangerous_passes(name in "\\PC{0,40}", spec in "\\PC{0,40}") {
            if let Ok(r) = Requirement::new(&name, &spec) {
                let arg = r.to_arg();
                prop_assert!(!arg.starts_with('-'));
                prop_assert!(arg.chars().all(|c| c.is_ascii_alphanumeric() || " .*!=<>~+,_-".contains(c)));
            }
        }

        #[test]
        fn lines_never_panic(line in "\\PC{0,80}") {
            let _ = Requirement::parse_line(&line);
        }

        #[test]
        fn typical_specifiers_round_trip(major in 0u32..50, minor in 0u32..50, op in prop::sample::select(vec!["==", ">=", "<=", "~=", "!=", ">", "<"])) {
            let r = Requirement::new("pkg", &format!("{op}{major}.{minor}")).unwrap();
            prop_assert_eq!(Requirement::new(&r.name, &r.spec).unwrap(), r);
        }
    }
}
