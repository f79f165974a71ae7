//! A script's inputs, read from its own code without running it (`code/inputs.py` on the
//! server): what the form shows, how a run is given them (argv for `argparse`, keyword arguments
//! for `main()`), and how a value is checked. Shared so the browser checks a form as the server
//! will, with the same words.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use super::status::InputStyle;

/// What one input holds. Dates and paths travel as strings (ISO 8601 for dates).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    Text,
    Integer,
    Number,
    Boolean,
    Date,
    DateTime,
    Path,
}

impl InputKind {
    /// As a person reads it in an error.
    pub fn noun(self) -> &'static str {
        match self {
            InputKind::Text => "a text",
            InputKind::Integer => "a whole number",
            InputKind::Number => "a number",
            InputKind::Boolean => "true or false",
            InputKind::Date => "a date (YYYY-MM-DD)",
            InputKind::DateTime => "a date and time (YYYY-MM-DDTHH:MM[:SS])",
            InputKind::Path => "a path",
        }
    }

    /// As a person reads several of it in an error.
    pub fn plural(self) -> &'static str {
        match self {
            InputKind::Text => "texts",
            InputKind::Integer => "whole numbers",
            InputKind::Number => "numbers",
            InputKind::Boolean => "true/false values",
            InputKind::Date => "dates (YYYY-MM-DD)",
            InputKind::DateTime => "dates and times",
            InputKind::Path => "paths",
        }
    }
}

/// An `argparse` argument's `action`, as far as inputs go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ArgAction {
    Store,
    StoreTrue,
    StoreFalse,
    Append,
}

/// How an `argparse` argument is written on the command line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ArgvSpec {
    /// `--name` for an option; none for a positional argument.
    pub flag: Option<String>,
    pub action: ArgAction,
    /// `"?"`, `"*"`, `"+"` or a count, as written in the script.
    #[cfg_attr(feature = "ssr", schema(value_type = Option<Object>))]
    pub nargs: Option<Value>,
}

/// One input of a script.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct InputSpec {
    pub name: String,
    pub kind: InputKind,
    /// Takes a list of values of `kind`.
    pub list: bool,
    /// The only values allowed, when the script names them.
    #[cfg_attr(feature = "ssr", schema(value_type = Option<Vec<Object>>))]
    pub choices: Option<Vec<Value>>,
    #[cfg_attr(feature = "ssr", schema(value_type = Option<Object>))]
    pub default: Option<Value>,
    /// Must be given (it has no default).
    pub required: bool,
    /// May be given as `null` (or left out, when not required).
    pub nullable: bool,
    pub description: Option<String>,
    /// Masked in the run's log, stored encrypted, never shown back.
    pub secret: bool,
    /// How it is passed as argv (argparse scripts); none for `main()`.
    pub argv: Option<ArgvSpec>,
}

/// Something in the code that the form could not take as written, with the line it is on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct InputNotice {
    pub line: u32,
    pub message: String,
}

/// `POST /api/code/inputs`, and a script's `inputs`: what its code takes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct InputsReport {
    pub style: InputStyle,
    pub inputs: Vec<InputSpec>,
    pub notices: Vec<InputNotice>,
}

/// Why given inputs were refused: the input and the rule it broke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    pub input: String,
    pub rule: String,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "input `{}`: {}", self.input, self.rule)
    }
}

impl std::error::Error for InputError {}

fn refuse(input: &str, rule: impl Into<String>) -> InputError {
    InputError { input: input.to_owned(), rule: rule.into() }
}

/// Whether `text` is an ISO 8601 calendar date, `YYYY-MM-DD`.
fn is_date(text: &str) -> bool {
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok()
}

/// Whether `text` is what Python's `datetime.fromisoformat` and a browser's date-time control
/// both accept: a date, `T`, a time to the minute or second (fractions allowed), and an optional
/// offset.
fn is_date_time(text: &str) -> bool {
    const FORMATS: &[&str] = &["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%.f"];
    if chrono::DateTime::parse_from_rfc3339(text).is_ok() {
        return true;
    }
    FORMATS.iter().any(|format| chrono::NaiveDateTime::parse_from_str(text, format).is_ok())
}

/// How a secret input's value is shown (a run's or schedule's inputs). Sent back for a
/// schedule's input, it keeps the value stored.
pub const MASK: &str = "***";

/// Text inputs may not carry NUL (argv cannot) and are bounded like the rest of a request.
pub const MAX_TEXT_BYTES: usize = 64 * 1024;
/// Values in one list input.
pub const MAX_LIST_ITEMS: usize = 1000;

impl InputSpec {
    /// A plain optional input of `kind`: one value, no default, choices or description, not
    /// secret, not an argparse argument; the rest is set with struct update syntax.
    pub fn new(name: &str, kind: InputKind) -> InputSpec {
        InputSpec {
            name: name.into(),
            kind,
            list: false,
            choices: None,
            default: None,
            required: false,
            nullable: false,
            description: None,
            secret: false,
            argv: None,
        }
    }

    /// Whether `value` fits this input (one value of a list input).
    fn check_one(&self, value: &Value) -> Result<(), InputError> {
        let name = &self.name;
        // A secret's value is never quoted: the error may reach a log or a run's page.
        let given = || if self.secret { describe_kind(value) } else { describe(value) };
        let wrong = || refuse(name, format!("must be {}, not {}", self.kind.noun(), given()));
        match self.kind {
            InputKind::Integer => {
                if !value.is_i64() {
                    return Err(wrong());
                }
            }
            InputKind::Number => {
                if !value.is_number() {
                    return Err(wrong());
                }
            }
            InputKind::Boolean => {
                if !value.is_boolean() {
                    return Err(wrong());
                }
            }
            InputKind::Text | InputKind::Path | InputKind::Date | InputKind::DateTime => {
                let Some(text) = value.as_str() else { return Err(wrong()) };
                if text.len() > MAX_TEXT_BYTES {
                    return Err(refuse(name, format!("may be {MAX_TEXT_BYTES} bytes at most")));
                }
                if text.contains('\0') {
                    return Err(refuse(name, "may not contain a NUL character"));
                }
                let fits = match self.kind {
                    InputKind::Date => is_date(text),
                    InputKind::DateTime => is_date_time(text),
                    InputKind::Path => !text.is_empty(),
                    _ => true,
                };
                if !fits {
                    return Err(wrong());
                }
            }
        }
        if let Some(choices) = &self.choices {
            if !choices.iter().any(|choice| same(choice, value)) {
                let listed: Vec<String> = choices.iter().map(|c| c.to_string()).collect();
                return Err(refuse(name, format!("must be one of {}", listed.join(", "))));
            }
        }
        Ok(())
    }

    /// Whether `value` fits this input as a whole (a list input takes a list).
    pub fn check(&self, value: &Value) -> Result<(), InputError> {
        if value.is_null() {
            return if self.nullable { Ok(()) } else { Err(refuse(&self.name, "may not be empty")) };
        }
        if !self.list {
            return self.check_one(value);
        }
        let Some(items) = value.as_array() else {
            return Err(refuse(&self.name, format!("must be a list of {}", self.kind.plural())));
        };
        if items.len() > MAX_LIST_ITEMS {
            return Err(refuse(&self.name, format!("may hold {MAX_LIST_ITEMS} values at most")));
        }
        if items.is_empty() && self.argv.as_ref().and_then(|a| a.nargs.as_ref()).is_some_and(|n| n == "+") {
            return Err(refuse(&self.name, "needs at least one value"));
        }
        if let Some(count) = self.argv.as_ref().and_then(|a| a.nargs.as_ref()).and_then(Value::as_u64) {
            if items.len() as u64 != count {
                return Err(refuse(&self.name, format!("needs exactly {count} values")));
            }
        }
        items.iter().try_for_each(|item| self.check_one(item))
    }
}

/// Equal as JSON values, with `1` and `1.0` the same number.
fn same(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// What a value is, without what it says.
fn describe_kind(value: &Value) -> String {
    match value {
        Value::Null => "empty",
        Value::Bool(_) => "true or false",
        Value::Number(_) => "a number",
        Value::String(_) => "a text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
    .into()
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "empty".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) if s.chars().count() > 40 => format!("{:?}…", s.chars().take(40).collect::<String>()),
        Value::String(s) => format!("{s:?}"),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
    }
}

impl InputsReport {
    /// The given inputs checked and completed: every input the script takes, each given value
    /// checked against its rules, defaults filled in for those not given. Refuses names the
    /// script does not take, and required ones left out.
    pub fn resolve(&self, given: &Map<String, Value>) -> Result<Map<String, Value>, InputError> {
        let known: BTreeSet<&str> = self.inputs.iter().map(|i| i.name.as_str()).collect();
        if let Some(unknown) = given.keys().find(|name| !known.contains(name.as_str())) {
            let rule = if known.is_empty() {
                "the script takes no inputs".to_owned()
            } else {
                format!("the script takes no such input (it takes {})", known.iter().copied().collect::<Vec<_>>().join(", "))
            };
            return Err(refuse(unknown, rule));
        }
        let mut resolved = Map::new();
        for input in &self.inputs {
            let value = match given.get(&input.name) {
                Some(value) => {
                    input.check(value)?;
                    value.clone()
                }
                None if input.required => return Err(refuse(&input.name, "is required")),
                None => match &input.default {
                    Some(default) => default.clone(),
                    // argparse leaves it `None`; main() applies its own default (left out).
                    None if input.argv.is_some() => Value::Null,
                    None => continue,
                },
            };
            resolved.insert(input.name.clone(), value);
        }
        Ok(resolved)
    }

    /// The names of the secret inputs.
    pub fn secret_names(&self) -> impl Iterator<Item = &str> {
        self.inputs.iter().filter(|i| i.secret).map(|i| i.name.as_str())
    }

    /// The command-line arguments an argparse script is run with for `resolved` inputs (from
    /// `resolve`): options first as `--flag=value` (a value starting with `-` cannot pass for an
    /// option), then `--` and the positional ones, in the script's order.
    pub fn argv(&self, resolved: &Map<String, Value>) -> Vec<String> {
        let mut options = Vec::new();
        let mut positionals = Vec::new();
        for input in &self.inputs {
            let Some(spec) = &input.argv else { continue };
            let Some(value) = resolved.get(&input.name).filter(|v| !v.is_null()) else { continue };
            let values: Vec<String> = match value {
                Value::Array(items) => items.iter().map(plain).collect(),
                other => vec![plain(other)],
            };
            match (&spec.flag, spec.action) {
                (None, _) => positionals.extend(values),
                (Some(flag), ArgAction::StoreTrue) => {
                    if value.as_bool() == Some(true) {
                        options.push(flag.clone());
                    }
                }
                (Some(flag), ArgAction::StoreFalse) => {
                    if value.as_bool() == Some(false) {
                        options.push(flag.clone());
                    }
                }
                (Some(flag), ArgAction::Append) => options.extend(values.iter().map(|v| format!("{flag}={v}"))),
                (Some(flag), ArgAction::Store) if input.list => {
                    // nargs: the flag, then each value; a value like `-x` would be read as an
                    // option, which argparse has no escape for in a list.
                    if !values.is_empty() {
                        options.push(flag.clone());
                        options.extend(values);
                    }
                }
                (Some(flag), ArgAction::Store) => options.push(format!("{flag}={}", values.concat())),
            }
        }
        if !positionals.is_empty() {
            options.push("--".into());
            options.extend(positionals);
        }
        options
    }

    /// The JSON Schema of the inputs (draft 2020-12), as other tools read it.
    pub fn json_schema(&self) -> Value {
        let mut properties = Map::new();
        let mut required = Vec::new();
        for input in &self.inputs {
            let mut one = Map::new();
            let (kind, format) = match input.kind {
                InputKind::Text => ("string", None),
                InputKind::Path => ("string", Some("path")),
                InputKind::Date => ("string", Some("date")),
                InputKind::DateTime => ("string", Some("date-time")),
                InputKind::Integer => ("integer", None),
                InputKind::Number => ("number", None),
                InputKind::Boolean => ("boolean", None),
            };
            one.insert("type".into(), kind.into());
            if let Some(format) = format {
                one.insert("format".into(), format.into());
            }
            if let Some(choices) = &input.choices {
                one.insert("enum".into(), Value::Array(choices.clone()));
            }
            let mut schema = Value::Object(one);
            if input.list {
                schema = serde_json::json!({"type": "array", "items": schema});
            }
            if input.nullable {
                schema = serde_json::json!({"anyOf": [schema, {"type": "null"}]});
            }
            let object = schema.as_object_mut().expect("built as an object");
            if let Some(description) = &input.description {
                object.insert("description".into(), description.clone().into());
            }
            if let Some(default) = &input.default {
                object.insert("default".into(), default.clone());
            }
            if input.secret {
                object.insert("writeOnly".into(), true.into());
            }
            if input.required {
                required.push(Value::from(input.name.clone()));
            }
            properties.insert(input.name.clone(), schema);
        }
        serde_json::json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": false,
        })
    }
}

/// A value as argv holds it: strings as they are, numbers and booleans as Python writes them.
fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input(name: &str, kind: InputKind) -> InputSpec {
        InputSpec::new(name, kind)
    }

    fn option(mut spec: InputSpec, flag: &str, action: ArgAction) -> InputSpec {
        spec.argv = Some(ArgvSpec { flag: Some(flag.into()), action, nargs: None });
        spec
    }

    fn given(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn each_kind_is_checked_and_the_error_names_the_input_and_the_rule() {
        let report = InputsReport {
            style: InputStyle::Main,
            inputs: vec![
                InputSpec { required: true, ..input("day", InputKind::Date) },
                InputSpec { default: Some(json!(3)), ..input("count", InputKind::Integer) },
                InputSpec {
                    choices: Some(vec![json!("fast"), json!("slow")]),
                    default: Some(json!("fast")),
                    ..input("mode", InputKind::Text)
                },
                InputSpec { list: true, default: Some(json!([])), ..input("tags", InputKind::Text) },
                InputSpec { nullable: true, ..input("when", InputKind::DateTime) },
            ],
            notices: vec![],
        };
        let ok = report.resolve(&given(json!({"day": "2026-12-05", "tags": ["a", "b"], "when": "2026-12-05T10:30"}))).unwrap();
        assert_eq!(ok, given(json!({"day": "2026-12-05", "count": 3, "mode": "fast", "tags": ["a", "b"], "when": "2026-12-05T10:30"})));
        let refused = |value: Value| report.resolve(&given(value)).unwrap_err().to_string();
        assert_eq!(refused(json!({})), "input `day`: is required");
        assert_eq!(refused(json!({"day": "05/12/2026"})), "input `day`: must be a date (YYYY-MM-DD), not \"05/12/2026\"");
        assert_eq!(refused(json!({"day": "2026-12-05", "count": 1.5})), "input `count`: must be a whole number, not 1.5");
        assert_eq!(refused(json!({"day": "2026-12-05", "mode": "medium"})), "input `mode`: must be one of \"fast\", \"slow\"");
        assert_eq!(refused(json!({"day": "2026-12-05", "tags": "a"})), "input `tags`: must be a list of texts");
        assert_eq!(refused(json!({"day": "2026-12-05", "tags": [1]})), "input `tags`: must be a text, not 1");
        assert_eq!(refused(json!({"day": null})), "input `day`: may not be empty");
        assert_eq!(
            refused(json!({"day": "2026-12-05", "when": "tomorrow"})).split(',').next().unwrap(),
            "input `when`: must be a date and time (YYYY-MM-DDTHH:MM[:SS])"
        );
        assert!(refused(json!({"day": "2026-12-05", "dya": 1})).starts_with("input `dya`: the script takes no such input (it takes "));
        assert_eq!(refused(json!({"day": "2026-12-05\u{0}"})), "input `day`: may not contain a NUL character");
        let none = InputsReport::default();
        assert_eq!(none.resolve(&given(json!({"x": 1}))).unwrap_err().to_string(), "input `x`: the script takes no inputs");
        // A secret's value is never quoted in an error.
        let secret = InputsReport {
            style: InputStyle::Main,
            inputs: vec![InputSpec { secret: true, ..input("api_token", InputKind::Integer) }],
            notices: vec![],
        };
        let error = secret.resolve(&given(json!({"api_token": "tok-31337-secret"}))).unwrap_err().to_string();
        assert_eq!(error, "input `api_token`: must be a whole number, not a text");
    }

    #[test]
    fn argv_puts_options_first_and_keeps_values_from_passing_for_options() {
        let mut files = input("files", InputKind::Text);
        files.list = true;
        files.argv = Some(ArgvSpec { flag: None, action: ArgAction::Store, nargs: Some(json!("*")) });
        let mut customer = input("customer", InputKind::Integer);
        customer.argv = Some(ArgvSpec { flag: None, action: ArgAction::Store, nargs: None });
        let report = InputsReport {
            style: InputStyle::Argparse,
            inputs: vec![
                customer,
                option(input("date", InputKind::Text), "--date", ArgAction::Store),
                option(input("dry_run", InputKind::Boolean), "--dry-run", ArgAction::StoreTrue),
                option(input("verbose", InputKind::Boolean), "--quiet", ArgAction::StoreFalse),
                option(InputSpec { list: true, ..input("tag", InputKind::Text) }, "--tag", ArgAction::Append),
                files,
            ],
            notices: vec![],
        };
        let resolved = given(json!({
            "customer": 42, "date": "-1 day", "dry_run": true, "verbose": false, "tag": ["a", "b"], "files": ["-rf", "x"]
        }));
        assert_eq!(
            report.argv(&resolved),
            ["--date=-1 day", "--dry-run", "--quiet", "--tag=a", "--tag=b", "--", "42", "-rf", "x"].map(String::from)
        );
        let resolved = given(json!({"customer": 1, "date": null, "dry_run": false, "verbose": true, "tag": null, "files": []}));
        assert_eq!(report.argv(&resolved), ["--", "1"].map(String::from));
    }

    #[test]
    fn the_json_schema_says_what_the_form_does() {
        let report = InputsReport {
            style: InputStyle::Main,
            inputs: vec![
                InputSpec { required: true, description: Some("the day".into()), ..input("day", InputKind::Date) },
                InputSpec { list: true, nullable: true, ..input("ids", InputKind::Integer) },
                InputSpec { secret: true, ..input("api_token", InputKind::Text) },
            ],
            notices: vec![],
        };
        let schema = report.json_schema();
        assert_eq!(schema["required"], json!(["day"]));
        assert_eq!(schema["properties"]["day"], json!({"type": "string", "format": "date", "description": "the day"}));
        assert_eq!(schema["properties"]["ids"], json!({"anyOf": [{"type": "array", "items": {"type": "integer"}}, {"type": "null"}]}));
        assert_eq!(schema["properties"]["api_token"]["writeOnly"], json!(true));
        assert_eq!(schema["additionalProperties"], json!(false));
    }
}
