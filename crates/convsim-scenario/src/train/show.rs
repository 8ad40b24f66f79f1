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
    /// The resolved training scenario as TOML: the effective file, then a `[derived]` table
    /// (the data source, the field and the model's kernel) and, for a `data.scenario`, the
    /// resolved data scenario with its `[resources]` under `[data_scenario]`.
    #[must_use]
    pub fn to_toml_string(&self) -> String {
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
        toml::to_string(&t).unwrap_or_default()
    }
}
