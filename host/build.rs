//! Records the commit the binary is built from, for `installer --version`: `git rev-parse`
//! in the checkout, `unknown` outside one (a source tarball) unless INSTALLER_COMMIT says.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=INSTALLER_COMMIT");
    let commit = std::env::var("INSTALLER_COMMIT").ok().or_else(|| {
        let out = Command::new("git")
            .args(["rev-parse", "--short=12", "HEAD"])
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
            .filter(|c| !c.is_empty())
    });
    // Rebuilt when HEAD moves: HEAD itself, and the branch it names.
    if let Ok(out) = Command::new("git")
        .args(["rev-parse", "--git-dir"])
        .output()
    {
        let dir = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if !dir.is_empty() {
            println!("cargo:rerun-if-changed={dir}/HEAD");
            if let Ok(head) = std::fs::read_to_string(format!("{dir}/HEAD")) {
                if let Some(branch) = head.trim().strip_prefix("ref: ") {
                    println!("cargo:rerun-if-changed={dir}/{branch}");
                }
            }
        }
    }
    println!(
        "cargo:rustc-env=INSTALLER_COMMIT={}",
        commit.as_deref().unwrap_or("unknown")
    );
}
