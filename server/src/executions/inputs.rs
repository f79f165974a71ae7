//! A run's inputs (SPEC "Variables, secrets and inputs"), from the request that starts it to
//! the process that takes them.
//!
//! At the start, the given inputs are checked against the script's saved `InputsReport` and
//! completed with defaults (`InputsReport::resolve`). The run stores them twice: as shown, with
//! secret inputs' values as `***` (the API and the run page), and as its process is to be given
//! them, sealed with the instance's key (`inputs_sealed`: secret values are never stored in the
//! clear, and the sealed copy is cleared when the run ends). A run of an input-taking script is
//! "Run again"-able from what is shown; its secret inputs are asked for again.
//!
//! The process gets them through its environment (at the spawn, or through the start gate for a
//! Python started before the run existed), read by the venv's `.pth` line (`gate`) before the
//! script starts: `PYTASK_ARGV` (a JSON list) becomes `sys.argv[1:]` for an `argparse` script;
//! for a `main()` script the run's entry is `MAIN_RUNNER`, which imports the script as a module
//! and calls `main(**inputs)` from `PYTASK_INPUTS`, and writes what it returns (if JSON can
//! hold it) to `RESULT_FILE` in the working directory. Secret values are masked in the log.

use app::model::inputs::MASK;
use app::model::{InputError, InputKind, InputStyle, InputsReport};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::env::SecretKey;

/// The entry of a run of a `main()` script: its own `script.py`, with the script beside it as
/// `MODULE_FILE`.
pub const MAIN_RUNNER: &str = include_str!("main_runner.py");
/// The script's code, for a `main()` run (a name no script imports by chance).
pub const MODULE_FILE: &str = "pytask_script.py";
/// Where `MAIN_RUNNER` writes `main()`'s result, in the run's working directory.
pub const RESULT_FILE: &str = ".pytask_result.json";
/// The most of a result that is kept; a bigger one is dropped with a note in the log.
pub const MAX_RESULT_BYTES: u64 = 1024 * 1024;

/// What a run stores of its inputs.
#[derive(Debug, Clone)]
pub struct RunInputs {
    pub style: InputStyle,
    /// As shown: JSON, secret values as `***`.
    pub shown: String,
    /// As given to the process, sealed.
    pub sealed: Vec<u8>,
}

/// What the process is given, as sealed.
#[derive(Serialize, Deserialize)]
struct Delivery {
    /// `PYTASK_ARGV` or `PYTASK_INPUTS`, and its value.
    variable: String,
    value: String,
    /// The values to mask in its output.
    secrets: Vec<String>,
}

/// What a run's process is given, opened.
pub struct Opened {
    pub variable: String,
    pub value: Zeroizing<String>,
    pub secrets: Vec<Zeroizing<String>>,
}

/// Why a run's inputs cannot be taken.
#[derive(Debug, thiserror::Error)]
pub enum InputsError {
    #[error("{0}")]
    Invalid(#[from] InputError),
    /// The script's inputs could not be read when it was saved.
    #[error("the inputs of script `{0}` could not be read from its code when it was saved; save it again to run it with inputs")]
    Unknown(String),
}

impl From<InputsError> for crate::http::error::ApiError {
    fn from(err: InputsError) -> Self {
        use crate::http::error::ApiError;
        match err {
            InputsError::Invalid(invalid) => {
                ApiError::Invalid { message: invalid.to_string(), field: Some(format!("inputs.{}", invalid.input)) }
            }
            unknown @ InputsError::Unknown(_) => ApiError::Conflict(unknown.to_string()),
        }
    }
}

/// A script's inputs as stored with it (`scripts.inputs`). Written by this server; a column it
/// cannot read counts as unread (`None`): runs are then refused inputs, never guessed.
pub fn stored_report(json: Option<&str>) -> Option<InputsReport> {
    json.and_then(|json| serde_json::from_str(json).ok())
}

/// `values` as shown: the secret inputs' values (those given) as `***`.
fn shown(report: &InputsReport, values: &Map<String, Value>) -> Map<String, Value> {
    let mut shown = values.clone();
    for name in report.secret_names() {
        if let Some(value) = shown.get_mut(name).filter(|v| !v.is_null()) {
            *value = Value::from(MASK);
        }
    }
    shown
}

/// A secret input given as `***`, as a schedule shows it, keeps the value stored behind it
/// (`stored`: the schedule's sealed inputs, opened), so a form can send a schedule back without
/// the secrets it never sees. With nothing stored behind it, `***` is refused, never taken as
/// the value.
pub fn keep_secrets(
    report: Option<&InputsReport>,
    given: &mut Map<String, Value>,
    stored: Option<&Map<String, Value>>,
) -> Result<(), InputsError> {
    let Some(report) = report else { return Ok(()) };
    for name in report.secret_names() {
        if given.get(name).and_then(Value::as_str) != Some(MASK) {
            continue;
        }
        match stored.and_then(|stored| stored.get(name)).filter(|value| !value.is_null()) {
            Some(value) => {
                given.insert(name.to_owned(), value.clone());
            }
            None => {
                let rule = format!("`{MASK}` stands for a stored secret and none is stored: type its value");
                return Err(InputError { input: name.to_owned(), rule }.into());
            }
        }
    }
    Ok(())
}

/// What the sealed copy is bound to: the run's script.
fn aad(script_id: i64) -> Vec<u8> {
    format!("pytask run inputs v1\0{script_id}").into_bytes()
}

/// The inputs of a run of `script_id` whose code takes `report` (`None`: it could not be read),
/// checked and ready to store; `None` when the script takes none and none were given.
pub fn prepare(
    key: &SecretKey,
    script_id: i64,
    script_name: &str,
    report: Option<&InputsReport>,
    given: &Map<String, Value>,
) -> Result<Option<RunInputs>, InputsError> {
    let Some(report) = report else {
        if given.is_empty() {
            return Ok(None);
        }
        return Err(InputsError::Unknown(script_name.to_owned()));
    };
    let resolved = report.resolve(given)?;
    if report.style == InputStyle::None {
        return Ok(None);
    }
    let mut secrets = Vec::new();
    for value in report.secret_names().filter_map(|name| resolved.get(name)) {
        collect_strings(value, &mut secrets);
    }
    let shown = shown(report, &resolved);
    let (variable, value) = match report.style {
        InputStyle::Argparse => ("PYTASK_ARGV", Value::from(report.argv(&resolved))),
        _ => {
            let kinds: Map<String, Value> = report.inputs.iter().map(|i| (i.name.clone(), Value::from(kind_word(i.kind)))).collect();
            ("PYTASK_INPUTS", serde_json::json!({"kwargs": resolved, "kinds": kinds}))
        }
    };
    let delivery = Delivery { variable: variable.into(), value: value.to_string(), secrets };
    let plain = Zeroizing::new(serde_json::to_vec(&delivery).expect("JSON values serialize"));
    Ok(Some(RunInputs { style: report.style, shown: Value::Object(shown).to_string(), sealed: key.seal(&aad(script_id), &plain) }))
}

/// The sealed inputs of a run of `script_id`, opened; `None` if they do not open (the key was
/// replaced since the run was queued).
pub fn open(key: &SecretKey, script_id: i64, sealed: &[u8]) -> Option<Opened> {
    let plain = key.open(&aad(script_id), sealed)?;
    let delivery: Delivery = serde_json::from_slice(&plain).ok()?;
    Some(Opened {
        variable: delivery.variable,
        value: Zeroizing::new(delivery.value),
        secrets: delivery.secrets.into_iter().map(Zeroizing::new).collect(),
    })
}

/// What a schedule's sealed inputs are bound to: its script.
fn schedule_aad(script_id: i64) -> Vec<u8> {
    format!("pytask schedule inputs v1\0{script_id}").into_bytes()
}

/// A schedule's inputs as stored: as shown (secret values `***`) and as given, sealed. Checked
/// against `report` first; each fire checks them again against the code saved then.
pub fn seal_for_schedule(
    key: &SecretKey,
    script_id: i64,
    script_name: &str,
    report: Option<&InputsReport>,
    given: &Map<String, Value>,
) -> Result<(String, Vec<u8>), InputsError> {
    let report = match report {
        Some(report) => report,
        None if given.is_empty() => &InputsReport::default(),
        None => return Err(InputsError::Unknown(script_name.to_owned())),
    };
    report.resolve(given)?;
    let shown = shown(report, given);
    let plain = Zeroizing::new(Value::Object(given.clone()).to_string().into_bytes());
    Ok((Value::Object(shown).to_string(), key.seal(&schedule_aad(script_id), &plain)))
}

/// A schedule's inputs as given, opened; `None` if they do not open (another key).
pub fn open_for_schedule(key: &SecretKey, script_id: i64, sealed: &[u8]) -> Option<Map<String, Value>> {
    let plain = key.open(&schedule_aad(script_id), sealed)?;
    serde_json::from_slice(&plain).ok()
}

fn collect_strings(value: &Value, into: &mut Vec<String>) {
    match value {
        Value::String(s) if !s.is_empty() => into.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|item| collect_strings(item, into)),
        _ => {}
    }
}

fn kind_word(kind: InputKind) -> &'static str {
    match kind {
        InputKind::Date => "date",
        InputKind::DateTime => "date_time",
        InputKind::Path => "path",
        _ => "plain",
    }
}

/// `main()`'s result as the runner left it in `workdir`, read and removed: `Ok(None)` when there
/// is none, `Err` with a note for the log when it cannot be kept. The script could have put
/// anything under that name, a link to a host file or a FIFO among them: it is read as
/// [`untrusted`](crate::sandbox::untrusted) and blocks (a thread of its own is the caller's).
pub fn take_result(workdir: &std::path::Path) -> Result<Option<String>, String> {
    use crate::sandbox::untrusted::{read_file, Found};
    let path = workdir.join(RESULT_FILE);
    let found = read_file(&path, MAX_RESULT_BYTES);
    let _ = std::fs::remove_file(&path);
    let bytes = match found {
        Ok(Found::Missing) => return Ok(None),
        Ok(Found::Read(bytes)) => bytes,
        Ok(Found::NotAFile) => return Err(format!("main()'s result file {RESULT_FILE} is not a plain file; it is not read")),
        Ok(Found::TooLarge) => return Err(format!("main()'s result is larger than {} KiB; it is not kept", MAX_RESULT_BYTES / 1024)),
        Err(err) => return Err(format!("main()'s result could not be read: {err}")),
    };
    // Written by the script's own process: checked, not trusted.
    let Ok(text) = String::from_utf8(bytes) else { return Err("main()'s result is not valid UTF-8 JSON; it is not kept".into()) };
    match serde_json::from_str::<Value>(&text) {
        Ok(_) => Ok(Some(text)),
        Err(_) => Err("main()'s result is not valid JSON; it is not kept".into()),
    }
}

/// Masks the secrets `masker` knows in a kept result; how many it replaced. A result that masking
/// would leave broken (a secret spanning two of its strings) is dropped rather than shown.
pub fn mask_result(result: &mut Option<String>, masker: &crate::env::Masker) -> usize {
    let Some(text) = result.as_mut() else { return 0 };
    let masked = masker.mask(text);
    if masked > 0 && serde_json::from_str::<Value>(text).is_err() {
        *result = None;
    }
    masked
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::model::{ArgAction, ArgvSpec, InputSpec};
    use serde_json::json;

    fn key() -> (tempfile::TempDir, SecretKey) {
        let dir = tempfile::tempdir().unwrap();
        let key = SecretKey::load_or_generate(None, dir.path()).unwrap();
        (dir, key)
    }

    fn spec(name: &str, kind: InputKind, secret: bool, flag: Option<&str>) -> InputSpec {
        let argv = flag.map(|flag| ArgvSpec { flag: Some(flag.into()), action: ArgAction::Store, nargs: None });
        InputSpec { required: true, secret, argv, ..InputSpec::new(name, kind) }
    }

    #[test]
    fn secret_inputs_are_sealed_and_shown_masked() {
        let (_dir, key) = key();
        let report = InputsReport {
            style: InputStyle::Argparse,
            inputs: vec![spec("day", InputKind::Date, false, Some("--day")), spec("api_token", InputKind::Text, true, Some("--api-token"))],
            notices: vec![],
        };
        let given = json!({"day": "2026-12-05", "api_token": "hunter2-secret"}).as_object().unwrap().clone();
        let run = prepare(&key, 7, "job", Some(&report), &given).unwrap().unwrap();
        assert_eq!(run.style, InputStyle::Argparse);
        assert_eq!(serde_json::from_str::<Value>(&run.shown).unwrap(), json!({"day": "2026-12-05", "api_token": "***"}));
        assert!(!String::from_utf8_lossy(&run.sealed).contains("hunter2"), "sealed, not in the clear");
        assert!(open(&key, 8, &run.sealed).is_none(), "bound to its script");
        let opened = open(&key, 7, &run.sealed).unwrap();
        assert_eq!(opened.variable, "PYTASK_ARGV");
        assert_eq!(serde_json::from_str::<Value>(&opened.value).unwrap(), json!(["--day=2026-12-05", "--api-token=hunter2-secret"]));
        assert_eq!(opened.secrets.iter().map(|s| s.as_str()).collect::<Vec<_>>(), ["hunter2-secret"]);
    }

    #[test]
    fn a_script_without_inputs_takes_none_and_unread_inputs_refuse_any() {
        let (_dir, key) = key();
        let none = InputsReport::default();
        assert!(prepare(&key, 1, "job", Some(&none), &Map::new()).unwrap().is_none());
        let given = json!({"x": 1}).as_object().unwrap().clone();
        assert_eq!(prepare(&key, 1, "job", Some(&none), &given).unwrap_err().to_string(), "input `x`: the script takes no inputs");
        assert!(prepare(&key, 1, "job", None, &Map::new()).unwrap().is_none());
        assert!(matches!(prepare(&key, 1, "job", None, &given), Err(InputsError::Unknown(_))));
    }

    #[test]
    fn a_result_is_kept_only_when_it_is_json_and_small() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(take_result(dir.path()), Ok(None));
        std::fs::write(dir.path().join(RESULT_FILE), r#"{"rows": 3}"#).unwrap();
        assert_eq!(take_result(dir.path()), Ok(Some(r#"{"rows": 3}"#.into())));
        assert!(!dir.path().join(RESULT_FILE).exists(), "taken");
        std::fs::write(dir.path().join(RESULT_FILE), "not json").unwrap();
        assert!(take_result(dir.path()).unwrap_err().contains("not valid JSON"));
        std::fs::write(dir.path().join(RESULT_FILE), vec![b' '; MAX_RESULT_BYTES as usize + 2]).unwrap();
        assert!(take_result(dir.path()).unwrap_err().contains("larger than 1024 KiB"));
        // A link the script left to a file of the host is not followed.
        let host = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(host.path(), r#"{"key": "of the host"}"#).unwrap();
        std::os::unix::fs::symlink(host.path(), dir.path().join(RESULT_FILE)).unwrap();
        assert!(take_result(dir.path()).unwrap_err().contains("not a plain file"));
        assert!(!dir.path().join(RESULT_FILE).exists(), "the link is removed");
    }
}
