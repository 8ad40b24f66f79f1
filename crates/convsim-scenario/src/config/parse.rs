//! Scenario text to a TOML table: parsing, `--set` overrides, and serde errors explained as
//! `file: key: value: reason; allowed:`.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use crate::error::{Result, ScenarioError, show_value};

use super::Ctx;

fn type_word(expected: &str) -> String {
    let e = expected.trim();
    match e {
        "f64" | "f32" => "allowed: a number".into(),
        "u64" | "usize" | "u32" => "allowed: a non-negative integer".into(),
        "i64" => "allowed: an integer".into(),
        "a boolean" => "allowed: true or false".into(),
        "a string" => "allowed: a string".into(),
        "a sequence" => "allowed: an array".into(),
        "a map" | "struct" => "allowed: a table".into(),
        _ if e.starts_with("struct ") => "allowed: a table".into(),
        _ => format!("allowed: {e}"),
    }
}

/// Turns a serde message into (key suffix, value, allowed).
fn explain(msg: &str) -> (Option<String>, String, String) {
    let ticks = |s: &str| -> Vec<String> {
        s.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    };
    if let Some(rest) = msg.strip_prefix("unknown field ") {
        let names = ticks(rest);
        let key = names.first().cloned();
        let allowed = if names.len() > 1 {
            let hint = crate::messages::did_you_mean(
                key.as_deref().unwrap_or(""),
                names[1..].iter().map(String::as_str),
            );
            format!("unknown key{hint}; allowed keys: {}", names[1..].join(", "))
        } else {
            "unknown key; this table takes no keys".into()
        };
        return (key, "(unknown key)".into(), allowed);
    }
    if let Some(rest) = msg.strip_prefix("missing field ") {
        let names = ticks(rest);
        return (
            names.first().cloned(),
            "(missing)".into(),
            "this key is required".into(),
        );
    }
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = msg.strip_prefix(prefix)
            && let Some((value, expected)) = rest.split_once(", expected ")
        {
            return (None, value.replace('`', ""), type_word(expected));
        }
    }
    (None, "(value)".into(), msg.to_string())
}

pub(super) fn deserialize<T: DeserializeOwned>(
    ctx: &Ctx<'_>,
    prefix: &str,
    value: toml::Value,
) -> Result<T> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let msg = e.into_inner().message().to_string();
        let (suffix, value, allowed) = explain(&msg);
        let mut key = prefix.to_string();
        for part in [path.as_str(), suffix.as_deref().unwrap_or("")] {
            if !part.is_empty() && part != "." {
                if !key.is_empty() {
                    key.push('.');
                }
                key.push_str(part);
            }
        }
        // A missing or unknown key is reported under its own name even when the path already
        // ends in it.
        if let Some(s) = &suffix
            && key.ends_with(&format!(".{s}.{s}"))
        {
            key.truncate(key.len() - s.len() - 1);
        }
        // An out-of-type integer (`nx = -64`) gets the key's real range, as `nx = 0` does.
        let allowed = match crate::messages::integer_range(&key) {
            Some(range) if allowed.contains("integer") => range.to_string(),
            _ => allowed,
        };
        ctx.invalid(&key, value, allowed)
    })
}

/// A scenario file (run or training) parsed, with its `--set` overrides applied.
pub(crate) struct Parsed {
    pub(crate) table: toml::Table,
    /// The keys the overrides set.
    pub(crate) overridden: Vec<String>,
    /// The effective scenario (file plus overrides) as TOML text, stored in output files.
    pub(crate) effective: String,
    /// The folder relative input paths are read from (the file's folder).
    pub(crate) base: PathBuf,
}

/// Parses scenario `text` read from `path` and applies `overrides` in order.
///
/// # Errors
/// Text that is not TOML (with its line and column), or a bad override.
pub(crate) fn parse_with_overrides(
    text: &str,
    path: &Path,
    overrides: &[String],
) -> Result<Parsed> {
    let file = path.display().to_string();
    let mut table: toml::Table = toml::from_str(text).map_err(|e: toml::de::Error| {
        let (line, col) = e.span().map_or((0, 0), |s| line_col(text, s.start));
        ScenarioError::File {
            file: file.clone(),
            reason: format!("line {line}, column {col}: {}", e.message().trim()),
        }
    })?;
    let mut overridden = Vec::new();
    for o in overrides {
        overridden.push(apply_override(&mut table, &file, o)?);
    }
    let base = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    // The stored text names input files by absolute paths: it runs from any folder.
    let mut portable = table.clone();
    crate::paths::absolutize(&mut portable, &base);
    let effective = toml::to_string(&portable).unwrap_or_default();
    Ok(Parsed {
        table,
        overridden,
        effective,
        base,
    })
}

/// Applies one `key.path=value` override to `table`; the value is parsed as TOML (a bare word
/// that is not valid TOML is taken as a string, so `--set boundary.all=periodic` works); an
/// empty value (`key.path=`) removes the key.
///
/// # Errors
/// No `=`, an empty key, or a path through a non-table.
pub fn apply_override(table: &mut toml::Table, file: &str, spec: &str) -> Result<String> {
    let Some((key, raw)) = spec.split_once('=') else {
        return Err(ScenarioError::invalid(
            format!("{file} (--set)"),
            spec,
            "(no `=`)",
            "allowed: --set key.path=value, e.g. --set time.steps=100",
        ));
    };
    let key = key.trim();
    let parts: Vec<&str> = key.split('.').map(str::trim).collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(ScenarioError::invalid(
            format!("{file} (--set)"),
            key,
            raw,
            "allowed: a dotted key path such as time.dt",
        ));
    }
    if raw.trim().is_empty() {
        // `--set key=` removes the key (e.g. `--set time.t_end= --set time.steps=100`).
        let mut cur = &mut *table;
        for p in &parts[..parts.len() - 1] {
            match cur.get_mut(*p) {
                Some(toml::Value::Table(t)) => cur = t,
                _ => return Ok(key.to_string()),
            }
        }
        cur.remove(parts[parts.len() - 1]);
        return Ok(key.to_string());
    }
    let value = match toml::from_str::<toml::Table>(&format!("v = {raw}")) {
        Ok(mut t) => t.remove("v").unwrap_or_else(|| raw.into()),
        Err(_) => toml::Value::String(raw.trim().to_string()),
    };
    let mut cur = table;
    for (i, p) in parts.iter().enumerate() {
        if i + 1 == parts.len() {
            cur.insert((*p).to_string(), value);
            break;
        }
        let entry = cur
            .entry((*p).to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let toml::Value::Table(t) = entry else {
            return Err(ScenarioError::invalid(
                format!("{file} (--set)"),
                parts[..=i].join("."),
                show_value(entry),
                format!("not a table, so {key} cannot be set"),
            ));
        };
        cur = t;
    }
    Ok(key.to_string())
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}
