//! Input file paths in scenario tables: found, made absolute, hashed.
//!
//! A scenario names input files in three places: `{ file = "...", dataset = "..." }` spatial
//! inputs (anywhere), `diffusion.stencil`, and a training scenario's `data.scenario` and
//! `data.run`. Relative paths start at the scenario's folder. The scenario text stored in run
//! files and printed by `convsim validate` has them absolute, so it runs from any folder.

use std::path::{Path, PathBuf};

/// Keys (dotted, from the root) whose string value is a file path.
const PATH_KEYS: [&str; 3] = ["diffusion.stencil", "data.scenario", "data.run"];

/// The absolute form of `rel` read from a scenario in `base`: canonical when the file exists
/// (no `..`, symlinks resolved), else joined to the current folder.
#[must_use]
pub fn absolute(base: &Path, rel: &str) -> PathBuf {
    let p = base.join(rel);
    p.canonicalize()
        .or_else(|_| std::path::absolute(&p))
        .unwrap_or(p)
}

/// Calls `f(key path, value)` for every string of `v` that is a file path (see the module).
fn walk(v: &mut toml::Value, key: &str, f: &mut dyn FnMut(&str, &mut String)) {
    match v {
        toml::Value::Table(t) => {
            for (k, x) in t.iter_mut() {
                let sub = if key.is_empty() {
                    k.clone()
                } else {
                    format!("{key}.{k}")
                };
                if let toml::Value::String(s) = x
                    && (k == "file" || PATH_KEYS.contains(&sub.as_str()))
                {
                    f(&sub, s);
                } else {
                    walk(x, &sub, f);
                }
            }
        }
        toml::Value::Array(a) => {
            for (i, x) in a.iter_mut().enumerate() {
                walk(x, &format!("{key}[{i}]"), f);
            }
        }
        _ => {}
    }
}

/// Rewrites every input path of `table` (read from a scenario in `base`) to its absolute form.
pub fn absolutize(table: &mut toml::Table, base: &Path) {
    let mut v = toml::Value::Table(std::mem::take(table));
    walk(&mut v, "", &mut |_, s| {
        *s = absolute(base, s).display().to_string();
    });
    if let toml::Value::Table(t) = v {
        *table = t;
    }
}

/// The input files `table` names, absolute, in the order they appear (duplicates removed).
#[must_use]
pub fn input_files(table: &toml::Table, base: &Path) -> Vec<PathBuf> {
    let mut v = toml::Value::Table(table.clone());
    let mut out: Vec<PathBuf> = Vec::new();
    walk(&mut v, "", &mut |_, s| {
        let p = absolute(base, s);
        if !out.contains(&p) {
            out.push(p);
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::{absolutize, input_files};

    #[test]
    fn every_kind_of_input_path_is_found_and_made_absolute() {
        let mut t: toml::Table = toml::from_str(
            r#"
            [initial]
            u = { file = "data/a.h5", dataset = "u" }
            [diffusion]
            stencil = "../s.toml"
            diffusivity = { file = "/abs/d.h5", dataset = "d" }
            [quantum]
            potential = [{ kind = "field", value = { file = "v.h5", dataset = "v" } }]
            [data]
            run = "runs/x/run.h5"
            field = "u"
            "#,
        )
        .unwrap();
        let base = std::path::Path::new("/base/dir");
        let files = input_files(&t, base);
        let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
        assert!(
            names.contains(&"/base/dir/data/a.h5".to_string()),
            "{names:?}"
        );
        assert!(
            names.contains(&"/base/dir/../s.toml".to_string()),
            "{names:?}"
        );
        assert!(names.contains(&"/abs/d.h5".to_string()), "{names:?}");
        assert!(names.contains(&"/base/dir/v.h5".to_string()), "{names:?}");
        assert!(
            names.contains(&"/base/dir/runs/x/run.h5".to_string()),
            "{names:?}"
        );
        assert_eq!(names.len(), 5);
        absolutize(&mut t, base);
        assert_eq!(
            t["data"]["field"].as_str(),
            Some("u"),
            "other strings untouched"
        );
        assert_eq!(t["data"]["run"].as_str(), Some("/base/dir/runs/x/run.h5"));
    }
}
