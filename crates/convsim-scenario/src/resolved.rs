//! The resolved scenario as a runnable TOML file (`convsim validate`): every default filled
//! in, every input path absolute, no derived key, and the derived values as comments.

use std::fmt::Write as _;

use crate::config::Scenario;

impl Scenario {
    /// The resolved scenario as a table that resolves again to the same scenario (a fixed
    /// point: `convsim validate x.toml > y.toml; convsim run y.toml` runs what `x.toml` runs).
    #[must_use]
    pub fn to_runnable_table(&self) -> toml::Table {
        let mut t = self.to_table();
        t.remove("derived");
        t.remove("resources");
        let stored: toml::Table = toml::from_str(&self.text).unwrap_or_default();
        let raw = match stored.get(self.kind.name()) {
            Some(toml::Value::Table(r)) => r.clone(),
            _ => toml::Table::new(),
        };
        t.insert(
            self.kind.name().into(),
            self.solver.to_runnable_table(&raw).into(),
        );
        if let Some(toml::Value::Table(time)) = t.get_mut("time") {
            // `steps` is the resolved count; `t_end` is derived from it.
            time.remove("t_end");
        }
        if let Some(toml::Value::Table(out)) = t.get_mut("output") {
            out.remove("frames");
            if !self.output.fields_given {
                out.remove("fields");
            }
            out.remove("fields_given");
        }
        let base = self
            .file
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        crate::paths::absolutize(&mut t, base);
        t
    }

    /// [`Scenario::to_runnable_table`] as TOML text, followed by the derived values as
    /// comments (`# derived: dx = 0.0078125`).
    #[must_use]
    pub fn to_runnable_toml(&self) -> String {
        let mut s = toml::to_string(&self.to_runnable_table()).unwrap_or_default();
        let table = self.to_table();
        for (name, what) in [("derived", "derived values"), ("resources", "resources")] {
            if let Some(toml::Value::Table(d)) = table.get(name) {
                let _ = writeln!(s, "\n# {what} (not keys):");
                for (k, v) in d {
                    let _ = writeln!(s, "# {k} = {v}");
                }
            }
        }
        s
    }
}
