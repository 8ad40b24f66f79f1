//! Records the git commit convsim is built from (`CONVSIM_GIT_COMMIT`, empty when there is no
//! git or no checkout): never fails the build.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

fn main() {
    let commit = git(&["rev-parse", "HEAD"]).unwrap_or_default();
    println!("cargo:rustc-env=CONVSIM_GIT_COMMIT={commit}");
    // Rebuild when HEAD moves: HEAD itself (a branch switch) and the branch's ref (a commit).
    // Only existing files: Cargo reruns a script on every build for a missing one.
    let mut watch = Vec::new();
    if let Some(dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        watch.push(format!("{dir}/HEAD"));
    }
    if let (Some(common), Some(head)) = (
        git(&["rev-parse", "--path-format=absolute", "--git-common-dir"]),
        git(&["symbolic-ref", "-q", "HEAD"]),
    ) {
        watch.push(format!("{common}/{head}"));
        watch.push(format!("{common}/packed-refs"));
    }
    for w in watch.iter().filter(|w| std::path::Path::new(w).exists()) {
        println!("cargo:rerun-if-changed={w}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
