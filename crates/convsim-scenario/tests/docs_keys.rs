//! docs/scenarios.md lists every key of every table: the schema is read from the validator
//! itself (an unknown key in any table is refused with the list of allowed keys), so a key
//! added to the code and not to the doc fails here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use convsim_scenario::Scenario;
use convsim_scenario::train::TrainScenario;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The allowed keys an error message lists after "allowed keys: ", or the variants after
/// "expected one of".
fn listed(msg: &str) -> Vec<String> {
    if let Some(rest) = msg.split("allowed keys: ").nth(1) {
        return rest
            .split([';', '\n'])
            .next()
            .unwrap_or("")
            .split(", ")
            .map(|s| s.trim().trim_matches('`').to_string())
            .filter(|s| !s.is_empty())
            .collect();
    }
    Vec::new()
}

fn variants(msg: &str) -> Vec<String> {
    msg.split("expected one of ")
        .nth(1)
        .map(|rest| {
            rest.split(", ")
                .map(|s| {
                    s.trim()
                        .trim_matches(|c: char| c == '`' || c == '.' || c == ';')
                        .to_string()
                })
                .filter(|s| !s.is_empty() && !s.contains(' '))
                .collect()
        })
        .unwrap_or_default()
}

/// Resolves `table` as a file at `path` (run or training scenario) and returns the error.
fn error_of(table: &toml::Table, path: &Path, train: bool) -> String {
    let text = toml::to_string(table).unwrap();
    if train {
        TrainScenario::from_str(&text, path, &[])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    } else {
        Scenario::from_str(&text, path, &[])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    }
}

/// Mutable access to the table at `path` (keys, or indices into arrays).
fn at<'a>(t: &'a mut toml::Table, path: &[String]) -> Option<&'a mut toml::Table> {
    let mut cur: &mut toml::Value = t.get_mut(path.first()?)?;
    for p in &path[1..] {
        cur = match (cur, p.parse::<usize>()) {
            (toml::Value::Array(a), Ok(i)) => a.get_mut(i)?,
            (toml::Value::Table(t), _) => t.get_mut(p)?,
            _ => return None,
        };
    }
    match cur {
        toml::Value::Table(t) => Some(t),
        _ => None,
    }
}

/// Every table path of `t` (array elements by index).
fn table_paths(v: &toml::Value, path: Vec<String>, out: &mut Vec<Vec<String>>) {
    match v {
        toml::Value::Table(t) => {
            if !path.is_empty() {
                out.push(path.clone());
            }
            for (k, x) in t {
                let mut p = path.clone();
                p.push(k.clone());
                table_paths(x, p, out);
            }
        }
        toml::Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                let mut p = path.clone();
                p.push(i.to_string());
                table_paths(x, p, out);
            }
        }
        _ => {}
    }
}

/// (top-level table, key) pairs of the schema, probed from every shipped scenario.
fn schema() -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let dir = root().join("scenarios");
    for sub in ["diffusion", "seismic", "quantum", "cnn"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join(sub))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        for file in files {
            let base: toml::Table =
                toml::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
            let train = base.contains_key("model");
            let mut paths = Vec::new();
            table_paths(&toml::Value::Table(base.clone()), Vec::new(), &mut paths);
            for p in paths {
                let top = p[0].clone();
                let mut t = base.clone();
                let Some(tab) = at(&mut t, &p) else { continue };
                tab.insert("zz_probe".into(), 0.into());
                for k in listed(&error_of(&t, &file, train)) {
                    out.entry(top.clone()).or_default().insert(k);
                }
                // Tagged tables (`kind = ...`): every variant's keys.
                let mut t = base.clone();
                let tab = at(&mut t, &p).unwrap();
                if tab.contains_key("kind") {
                    tab.insert("kind".into(), "zz_variant".into());
                    for v in variants(&error_of(&t, &file, train)) {
                        let mut t = base.clone();
                        let tab = at(&mut t, &p).unwrap();
                        tab.clear();
                        tab.insert("kind".into(), v.clone().into());
                        tab.insert("zz_probe".into(), 0.into());
                        let keys = listed(&error_of(&t, &file, train));
                        let e = out.entry(top.clone()).or_default();
                        e.insert(v);
                        e.extend(keys);
                    }
                }
            }
        }
    }
    out
}

#[test]
fn every_schema_key_is_in_docs_scenarios_md() {
    let doc = std::fs::read_to_string(root().join("docs/scenarios.md")).unwrap();
    // The section of each top-level table: from its "## `[name]`" heading to the next "## ".
    let section = |name: &str| -> String {
        let head = format!("## `[{name}]`");
        doc.split_once(&head)
            .map(|(_, rest)| rest.split("\n## ").next().unwrap_or("").to_string())
            .unwrap_or_default()
    };
    let s = schema();
    for t in [
        "run", "grid", "time", "boundary", "output", "seismic", "quantum", "data", "model",
    ] {
        assert!(s.contains_key(t), "probe found table [{t}]: {:?}", s.keys());
    }
    let mut missing = Vec::new();
    for (table, keys) in &s {
        let sec = section(table);
        for k in keys {
            if !sec.contains(&format!("`{k}`")) && !sec.contains(&format!("`{k} ")) {
                missing.push(format!("[{table}] {k}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "docs/scenarios.md lacks these keys in the table's section:\n{}",
        missing.join("\n")
    );
}
