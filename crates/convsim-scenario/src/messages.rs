//! Helpers for error messages: the nearest valid key to a mistyped one, and the real allowed
//! range of integer keys (so `nx = 0` and `nx = -64` get the same answer).

/// Damerau-Levenshtein distance (optimal string alignment) between `a` and `b`.
fn distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, c) in d[0].iter_mut().enumerate() {
        *c = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

/// The candidate closest to `word` if it is close enough to be a typo: at most a third of the
/// word's length in edits (at least 1), or `word` is a prefix of it or it of `word`.
#[must_use]
pub fn nearest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let w = word.to_ascii_lowercase();
    let max = (w.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| {
            let l = c.to_ascii_lowercase();
            let d = if l.starts_with(&w) || w.starts_with(&l) {
                1
            } else {
                distance(&w, &l)
            };
            (d, c)
        })
        .filter(|(d, _)| *d <= max)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// `"; did you mean `x`?"` for the nearest candidate, or nothing.
#[must_use]
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    nearest(word, candidates)
        .map(|c| format!("; did you mean `{c}`?"))
        .unwrap_or_default()
}

/// The allowed range of an integer key, where it is narrower than its type says.
#[must_use]
pub fn integer_range(key: &str) -> Option<&'static str> {
    Some(match key {
        "grid.nx" => "allowed: an integer >= 2",
        "grid.ny" | "time.steps" | "output.every" | "data.history" | "data.lag"
        | "train.epochs" | "train.batch" => "allowed: an integer >= 1",
        "model.kernel" => "allowed: an odd integer >= 1",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::{did_you_mean, distance, nearest};

    #[test]
    fn typos_find_the_key_and_strangers_find_nothing() {
        assert_eq!(distance("t_ned", "t_end"), 1);
        let keys = ["dt", "steps", "t_end"];
        assert_eq!(nearest("t_ned", keys), Some("t_end"));
        assert_eq!(nearest("step", keys), Some("steps"));
        assert_eq!(nearest("tend", keys), Some("t_end"));
        assert_eq!(nearest("viscosity", keys), None);
        assert_eq!(
            did_you_mean("nz", ["nx", "ny", "dx"]),
            "; did you mean `nx`?"
        );
    }
}
