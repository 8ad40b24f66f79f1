//! `convsim validate` of a training scenario: how to tell one from a run scenario, and what
//! to print for it.

use std::path::Path;

use super::{DataSource, TrainScenario};

/// `true` if `path` reads as a training scenario (`[data]` or `[model]` tables and no
/// `run.solver`), so `convsim validate` resolves it as one. Unreadable or malformed files
/// are not: the run-scenario loader then reports what is wrong with them.
#[must_use]
pub fn is_training_file(path: &Path) -> bool {
    let Ok(text) = crate::inputs::read_text(path) else {
        return false;
    };
    let Ok(t) = toml::from_str::<toml::Table>(&text) else {
        return false;
    };
    let solver = t.get("run").and_then(|r| r.get("solver")).is_some();
    !solver && (t.contains_key("data") || t.contains_key("model"))
}

impl TrainScenario {
    /// The resolved training scenario as a table (for `convsim validate --json`): the effective
    /// file, a `derived` table (the data source, the field and the model's kernel) and, for a
    /// `data.scenario`, the resolved data scenario with its resources under `data_scenario`.
    #[must_use]
    pub fn to_table(&self) -> toml::Table {
        let mut t: toml::Table = toml::from_str(&self.text).unwrap_or_default();
        let mut d = toml::Table::new();
        d.insert("name".into(), self.name.clone().into());
        d.insert("field".into(), self.data.field.clone().into());
        d.insert("kernel".into(), (self.model.kernel() as i64).into());
        match &self.data.source {
            DataSource::Scenario { scenario } => {
                d.insert(
                    "data".into(),
                    format!("runs the scenario {}", scenario.file.display()).into(),
                );
                t.insert("data_scenario".into(), scenario.to_table().into());
            }
            DataSource::Run { path } => {
                d.insert(
                    "data".into(),
                    format!("reads the run file {}", path.display()).into(),
                );
            }
        }
        t.insert("derived".into(), d.into());
        t
    }

    /// The training scenario as `convsim validate` prints it: the effective file (it runs as
    /// is with `convsim train`), then the derived values and the data scenario's resources as
    /// comments.
    #[must_use]
    pub fn to_toml_string(&self) -> String {
        use std::fmt::Write as _;
        let mut s = self.text.clone();
        let t = self.to_table();
        if let Some(toml::Value::Table(d)) = t.get("derived") {
            s.push_str("\n# derived values (not keys):\n");
            for (k, v) in d {
                let _ = writeln!(s, "# {k} = {v}");
            }
        }
        if let Some(toml::Value::Table(r)) = t.get("data_scenario").and_then(|d| d.get("resources"))
        {
            s.push_str("\n# the data scenario's resources (not keys):\n");
            for (k, v) in r {
                let _ = writeln!(s, "# {k} = {v}");
            }
        }
        s
    }
}
