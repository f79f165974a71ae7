//! The inputs reader (`inputs.py`) on its own, with the machine's Python: each shape of
//! `argparse` and `main()` it reads, each it cannot and names in a notice, and proof that reading
//! never runs the code. (The API tests cover the same program run in the sandbox.)

use std::io::Write;
use std::process::{Command, Stdio};

use app::model::{ArgAction, InputKind, InputSpec, InputStyle, InputsReport};
use serde_json::json;

use super::INPUTS_PROGRAM;

fn read(source: &str) -> InputsReport {
    let mut child = Command::new("python3")
        .args(["-I", "-S", "-B", "-c", INPUTS_PROGRAM])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 starts");
    child.stdin.take().unwrap().write_all(source.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    serde_json::from_slice(&output.stdout).unwrap_or_else(|err| panic!("{err}: {}", String::from_utf8_lossy(&output.stdout)))
}

fn input<'a>(report: &'a InputsReport, name: &str) -> &'a InputSpec {
    report.inputs.iter().find(|input| input.name == name).unwrap_or_else(|| panic!("no input `{name}` in {:#?}", report.inputs))
}

/// The notice that holds `words`, and its line.
fn noticed(report: &InputsReport, words: &str) -> u32 {
    report
        .notices
        .iter()
        .find(|n| n.message.contains(words))
        .unwrap_or_else(|| panic!("no notice with `{words}` in {:#?}", report.notices))
        .line
}

const ARGPARSE: &str = r#"import argparse
import decimal
import pathlib

LEVELS = ["debug", "info"]
parser = argparse.ArgumentParser()
parser.add_argument("source", help="Where to read from")
parser.add_argument("--count", type=int, default=3, help="How many")
parser.add_argument("--ratio", type=float, required=True)
parser.add_argument("--out", type=pathlib.Path)
parser.add_argument("--mode", choices=["fast", "slow"], default="fast")
parser.add_argument("--dry-run", action="store_true")
parser.add_argument("--no-cache", action="store_false", dest="cache")
parser.add_argument("--tag", action="append")
parser.add_argument("--ids", type=int, nargs="+")
parser.add_argument("--api-token")
parser.add_argument("--level", choices=LEVELS)
parser.add_argument("--since", default=LEVELS[0])
parser.add_argument(*LEVELS)
parser.add_argument("--loud", action=argparse.BooleanOptionalAction)
parser.add_argument("--amount", type=decimal.Decimal)
parser.add_argument("--verbose", action="count")
args = parser.parse_args()
"#;

#[test]
fn argparse_arguments_of_every_supported_shape() {
    let report = read(ARGPARSE);
    assert_eq!(report.style, InputStyle::Argparse);

    let source = input(&report, "source");
    assert_eq!((source.kind, source.required, source.description.as_deref()), (InputKind::Text, true, Some("Where to read from")));
    assert_eq!(source.argv.as_ref().unwrap().flag, None, "positional");

    let count = input(&report, "count");
    assert_eq!((count.kind, count.default.clone(), count.required), (InputKind::Integer, Some(json!(3)), false));
    assert_eq!(count.argv.as_ref().unwrap().flag.as_deref(), Some("--count"));
    assert_eq!((input(&report, "ratio").kind, input(&report, "ratio").required), (InputKind::Number, true));
    assert_eq!(input(&report, "out").kind, InputKind::Path);

    let mode = input(&report, "mode");
    assert_eq!((mode.choices.clone(), mode.default.clone()), (Some(vec![json!("fast"), json!("slow")]), Some(json!("fast"))));

    let dry_run = input(&report, "dry_run");
    assert_eq!((dry_run.kind, dry_run.argv.as_ref().unwrap().action), (InputKind::Boolean, ArgAction::StoreTrue));
    assert_eq!(dry_run.argv.as_ref().unwrap().flag.as_deref(), Some("--dry-run"), "given as written");
    let cache = input(&report, "cache");
    assert_eq!((cache.kind, cache.argv.as_ref().unwrap().action), (InputKind::Boolean, ArgAction::StoreFalse), "named by its dest");

    let tag = input(&report, "tag");
    assert!(tag.list && tag.argv.as_ref().unwrap().action == ArgAction::Append);
    let ids = input(&report, "ids");
    assert!(ids.list && ids.kind == InputKind::Integer);
    assert_eq!(ids.argv.as_ref().unwrap().nargs, Some(json!("+")));

    assert!(input(&report, "api_token").secret, "a name ending in token is secret");
    assert!(!input(&report, "count").secret);

    // What it cannot read is named, on its line; never dropped silently.
    let level = input(&report, "level");
    assert_eq!(level.choices, None, "computed choices: any value, the script checks it");
    assert_eq!(noticed(&report, "`--level`: its choices are computed"), 17);
    assert_eq!(input(&report, "since").default, None);
    assert_eq!(noticed(&report, "`--since`: its default is computed"), 18);
    assert_eq!(noticed(&report, "`*args` or `**kwargs`"), 19);
    noticed(&report, "`--loud`: a computed or custom `action`");
    assert!(report.inputs.iter().all(|input| input.name != "loud"));
    assert_eq!(input(&report, "amount").kind, InputKind::Text);
    noticed(&report, "`--amount`: type=decimal.Decimal is not one the form knows");
    noticed(&report, "`--verbose`: action='count' is not supported");
}

const MAIN: &str = r#"import datetime
from pathlib import Path
from typing import Literal, Optional

def main(
    day: datetime.date,
    at: datetime.datetime,
    name: str,
    count: int = 2,
    ratio: float = 0.5,
    dry_run: bool = False,
    mode: Literal["a", "b"] = "a",
    tags: list[str] = [],
    folder: Path | None = None,
    note: Optional[str] = None,
    db_password: str = "",
    amount: "Decimal" = 1,
    *rest,
    **more,
):
    """Makes the report.

    Args:
        day: The day to report on.
        count: How many rows, at most.
    """
    return {"rows": count}
"#;

#[test]
fn main_parameters_of_every_supported_type() {
    let report = read(MAIN);
    assert_eq!(report.style, InputStyle::Main);
    let kinds: Vec<(&str, InputKind, bool)> = report.inputs.iter().map(|i| (i.name.as_str(), i.kind, i.list)).collect();
    assert_eq!(
        kinds,
        [
            ("day", InputKind::Date, false),
            ("at", InputKind::DateTime, false),
            ("name", InputKind::Text, false),
            ("count", InputKind::Integer, false),
            ("ratio", InputKind::Number, false),
            ("dry_run", InputKind::Boolean, false),
            ("mode", InputKind::Text, false),
            ("tags", InputKind::Text, true),
            ("folder", InputKind::Path, false),
            ("note", InputKind::Text, false),
            ("db_password", InputKind::Text, false),
        ]
    );
    assert!(input(&report, "day").required && input(&report, "name").required && !input(&report, "count").required);
    assert_eq!(input(&report, "day").description.as_deref(), Some("The day to report on."));
    assert_eq!(input(&report, "count").description.as_deref(), Some("How many rows, at most."));
    assert_eq!(input(&report, "count").default, Some(json!(2)));
    assert_eq!(input(&report, "mode").choices, Some(vec![json!("a"), json!("b")]));
    assert!(input(&report, "folder").nullable && input(&report, "note").nullable && !input(&report, "name").nullable);
    assert!(input(&report, "db_password").secret);
    assert!(report.inputs.iter().all(|input| input.argv.is_none()), "main() takes keyword arguments, not argv");
    noticed(&report, "`*args` and `**kwargs` get nothing from the form");
    // An annotation it does not know, with a default: left to `main()`, and said so.
    assert_eq!(noticed(&report, "`main(amount)`: the annotation `'Decimal'` is not one the form knows"), 17);
    assert_eq!(input(&report, "dry_run").default, Some(json!(false)));
    assert_eq!(input(&report, "tags").default, Some(json!([])));
}

#[test]
fn shapes_main_cannot_take_are_named() {
    let positional = read("def main(a: int, /):\n    pass\n");
    noticed(&positional, "`main(a)` is positional-only");
    assert!(positional.inputs.is_empty());

    let bare = read("def main(a):\n    pass\n");
    assert_eq!(input(&bare, "a").kind, InputKind::Text);
    noticed(&bare, "`main(a)` has no annotation; taken as text");

    let asynchronous = read("async def main(a: int):\n    pass\n");
    assert_eq!((asynchronous.style, asynchronous.inputs.len()), (InputStyle::None, 0));
    noticed(&asynchronous, "`async def main()` is not supported");

    let both = read("import argparse\np = argparse.ArgumentParser()\np.add_argument('--x')\np.parse_args()\ndef main(y: int):\n    pass\n");
    assert_eq!(both.style, InputStyle::Argparse);
    noticed(&both, "`main()`'s parameters are not inputs");

    let broken = read("def main(:\n");
    assert_eq!(broken.style, InputStyle::None);
    noticed(&broken, "the script does not parse");

    let plain = read("print('hello')\n");
    assert_eq!((plain.style, plain.inputs.len(), plain.notices.len()), (InputStyle::None, 0, 0), "no inputs, nothing to say");
}

#[test]
fn reading_a_harmful_script_runs_none_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let harm = format!("open({:?}, 'w').write('x')", marker.to_str().unwrap());
    let source = format!(
        "import argparse\n{harm}\nparser = argparse.ArgumentParser()\nparser.add_argument('--when', default={harm})\n\
         class Evil:\n    def __init_subclass__(cls):\n        {harm}\n\ndef main(x: int = {harm}) -> None:\n    {harm}\n"
    );
    let report = read(&source);
    assert!(!report.notices.is_empty());
    assert!(!marker.exists(), "reading the code ran it");
}
