//! PEP 723 inline script metadata: the `# /// script` comment block whose TOML lists a script's
//! `dependencies`. Read, to offer a pasted script's requirements; written, to carry the
//! dependency list inside the script.

use app::model::{InlineMetadata, NewDependency};

use crate::deps::requirement::Requirement;

const OPEN: &str = "# /// script";
const CLOSE: &str = "# ///";

/// Where the block is: the line range of its TOML (between the markers) and of the whole block.
struct Block {
    start: usize,
    end: usize,
    toml: String,
}

fn find(lines: &[&str]) -> Option<Block> {
    let start = lines.iter().position(|l| l.trim_end() == OPEN)?;
    let mut toml = String::new();
    for (i, line) in lines.iter().enumerate().skip(start + 1) {
        let line = line.trim_end();
        if line == CLOSE {
            return Some(Block { start, end: i, toml });
        }
        // Every line of the block is a comment: `#` alone or `# ` and the TOML.
        let text = if line == "#" { "" } else { line.strip_prefix("# ")? };
        toml.push_str(text);
        toml.push('\n');
    }
    None
}

pub fn read(content: &str) -> Result<InlineMetadata, String> {
    let lines: Vec<&str> = content.lines().collect();
    let Some(block) = find(&lines) else { return Ok(InlineMetadata::default()) };
    let table: toml::Table =
        toml::from_str(&block.toml).map_err(|err| format!("the `# /// script` block is not valid TOML: {}", err.message()))?;
    let mut metadata = InlineMetadata { found: true, ..Default::default() };
    let Some(entries) = table.get("dependencies") else { return Ok(metadata) };
    let entries = entries.as_array().ok_or("`dependencies` in the `# /// script` block must be a list of strings")?;
    for entry in entries {
        let Some(line) = entry.as_str() else {
            metadata.refused.push(format!("{entry} is not a string"));
            continue;
        };
        match Requirement::parse_line(line) {
            Ok(r) => metadata.dependencies.push(NewDependency { name: r.name, version_spec: r.spec }),
            Err(err) => metadata.refused.push(err.message),
        }
    }
    Ok(metadata)
}

/// The source with its block listing exactly `dependencies` (other keys kept), added at the
/// top, after a shebang or encoding line, when there was none.
pub fn write(content: &str, dependencies: &[NewDependency]) -> Result<String, String> {
    let mut wanted = Vec::new();
    for dep in dependencies {
        let r = Requirement::new(&dep.name, &dep.version_spec).map_err(|err| err.message)?;
        wanted.push(toml::Value::String(r.to_arg()));
    }
    let lines: Vec<&str> = content.lines().collect();
    let existing = find(&lines);
    let mut table: toml::Table = match &existing {
        Some(block) => {
            toml::from_str(&block.toml).map_err(|err| format!("the `# /// script` block is not valid TOML: {}", err.message()))?
        }
        None => toml::Table::new(),
    };
    table.insert("dependencies".into(), toml::Value::Array(wanted));
    let body = toml::to_string(&table).map_err(|err| err.to_string())?;
    let mut block = vec![OPEN.to_string()];
    block.extend(body.lines().map(|l| if l.is_empty() { "#".to_string() } else { format!("# {l}") }));
    block.push(CLOSE.to_string());

    let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    match existing {
        Some(old) => {
            out.splice(old.start..=old.end, block);
        }
        None => {
            let at = out.iter().take(2).take_while(|l| l.starts_with("#!") || l.contains("coding")).count();
            block.push(String::new());
            out.splice(at..at, block);
        }
    }
    let mut text = out.join("\n");
    if content.ends_with('\n') || content.is_empty() {
        text.push('\n');
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRIPT: &str = "#!/usr/bin/env python3\n# /// script\n# requires-python = \">=3.11\"\n# dependencies = [\n#   \"Requests>=2.31\",\n#   \"rich\",\n#   \"evil @ https://x.example/e.whl\",\n# ]\n# ///\nimport requests\n";

    #[test]
    fn reads_the_block_and_refuses_what_is_not_plain() {
        let meta = read(SCRIPT).unwrap();
        assert!(meta.found);
        let names: Vec<_> = meta.dependencies.iter().map(|d| (d.name.as_str(), d.version_spec.as_str())).collect();
        assert_eq!(names, [("requests", ">=2.31"), ("rich", "")]);
        assert_eq!(meta.refused.len(), 1);
        assert!(!read("print(1)\n").unwrap().found);
        assert!(read("# /// script\n# dependencies = [\n# ///\n").is_err());
    }

    #[test]
    fn writes_a_new_block_or_replaces_the_list_keeping_other_keys() {
        let deps = [NewDependency { name: "six".into(), version_spec: "==1.16.0".into() }];
        let written = write("#!/usr/bin/env python3\nprint(1)\n", &deps).unwrap();
        assert_eq!(written, "#!/usr/bin/env python3\n# /// script\n# dependencies = [\"six==1.16.0\"]\n# ///\n\nprint(1)\n");
        let replaced = write(SCRIPT, &deps).unwrap();
        assert!(replaced.contains("requires-python = \">=3.11\""));
        assert!(!replaced.contains("rich"));
        let again = read(&replaced).unwrap();
        assert_eq!(again.dependencies, deps);
        assert!(replaced.ends_with("import requests\n"));
    }
}
