//! Run metadata stored as root attributes of every run and checkpoint file.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Root attributes of a run file (and of its checkpoints).
///
/// Stored as fixed-length UTF-8 string attributes on `/` under the names `convsim_version`,
/// `solver`, `scenario`, `created`, `recipe`, `time_units`, `length_units`, plus every entry
/// of [`RunMeta::attributes`] under its own name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunMeta {
    /// Version of convsim that wrote the file (e.g. `"0.1.0"`).
    pub convsim_version: String,
    /// Solver kind (`"diffusion"`, `"seismic"`, `"quantum"`).
    pub solver: String,
    /// Full text of the scenario TOML file, so a run can be reproduced from its output alone.
    pub scenario: String,
    /// Creation time, RFC 3339 in UTC (`"2025-01-31T12:00:00Z"`).
    pub created: String,
    /// Resolved configuration and convolution recipes as JSON text (`"{}"` if none).
    pub recipe: String,
    /// Unit of simulation time (`"s"`, or `"1"` for dimensionless time).
    pub time_units: String,
    /// Unit of the grid coordinates `x`, `y` (`"m"`, or `"1"`).
    pub length_units: String,
    /// Free attributes (name -> text), written as further root attributes.
    pub attributes: BTreeMap<String, String>,
}

impl RunMeta {
    /// Metadata with this crate's version, the current UTC time, SI units (`s`, `m`), an empty
    /// recipe `{}` and no free attributes.
    ///
    /// ```
    /// let m = convsim_io::RunMeta::new("diffusion", "[grid]\nnx = 8\n");
    /// assert_eq!(m.solver, "diffusion");
    /// assert!(m.created.ends_with('Z'));
    /// ```
    #[must_use]
    pub fn new(solver: &str, scenario: &str) -> Self {
        RunMeta {
            convsim_version: env!("CARGO_PKG_VERSION").into(),
            solver: solver.into(),
            scenario: scenario.into(),
            created: now_rfc3339(),
            recipe: "{}".into(),
            time_units: "s".into(),
            length_units: "m".into(),
            attributes: BTreeMap::new(),
        }
    }

    /// Names of the fixed root attributes, in the order written.
    pub const FIXED_NAMES: [&'static str; 7] = [
        "convsim_version",
        "solver",
        "scenario",
        "created",
        "recipe",
        "time_units",
        "length_units",
    ];

    pub(crate) fn fixed_values(&self) -> [&str; 7] {
        [
            &self.convsim_version,
            &self.solver,
            &self.scenario,
            &self.created,
            &self.recipe,
            &self.time_units,
            &self.length_units,
        ]
    }
}

/// The current time as RFC 3339 UTC with second precision, e.g. `"2025-01-31T12:00:00Z"`.
///
/// ```
/// let t = convsim_io::now_rfc3339();
/// assert_eq!(t.len(), 20);
/// assert_eq!(&t[10..11], "T");
/// ```
#[must_use]
pub fn now_rfc3339() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    rfc3339_from_unix(secs)
}

/// Formats seconds since the Unix epoch as RFC 3339 UTC (proleptic Gregorian calendar).
#[must_use]
pub fn rfc3339_from_unix(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil-from-days (H. Hinnant's algorithm): exact for every date after 1970.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::rfc3339_from_unix;

    #[test]
    fn known_dates() {
        // Oracles: `date -u -d @N +%FT%TZ`.
        assert_eq!(rfc3339_from_unix(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_from_unix(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_from_unix(1_738_324_799), "2025-01-31T11:59:59Z");
    }
}
