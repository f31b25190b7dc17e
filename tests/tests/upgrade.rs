//! Data directories written by earlier builds still start, with the same money, orders,
//! positions and books (see `betbet_tests::upgrade` and `tests/fixtures/README.md`).

use betbet_tests::{Server, upgrade};
use serde_json::Value;
use std::path::Path;

fn fixtures() -> impl Iterator<Item = (String, std::path::PathBuf)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/fixtures")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".tar.gz"))
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no fixtures in {}", dir.display());
    names.into_iter().map(|path| {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".tar.gz"))
            .expect("NAME.tar.gz")
            .to_owned();
        (name, path)
    })
}

/// Unpacks a fixture into a fresh directory and returns (the directory's guard, data dir).
fn unpack(archive: &Path) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let status = std::process::Command::new("tar")
        .arg("-xzf")
        .arg(archive)
        .arg("-C")
        .arg(dir.path())
        .status()
        .expect("tar");
    assert!(status.success(), "could not unpack {}", archive.display());
    let data = dir.path().join("data");
    (dir, data)
}

#[test]
fn every_fixture_starts_with_the_state_its_build_reported() {
    for (name, archive) in fixtures() {
        let expected: Value = serde_json::from_str(
            &std::fs::read_to_string(archive.with_file_name(format!("{name}.json")))
                .expect("the fixture's expected state"),
        )
        .expect("json");
        let (_guard, data) = unpack(&archive);
        // `journal verify` names the format it found (fixtures are named `snapshot-vN`).
        let verify = std::process::Command::new(betbet_tests::binary())
            .args(["journal", "verify"])
            .arg(&data)
            .output()
            .expect("betbet journal verify");
        let report = String::from_utf8_lossy(&verify.stdout);
        assert!(verify.status.success(), "verify failed: {report}");
        let format = name.rsplit("-v").next().expect("snapshot-vN");
        assert!(
            report.contains(&format!("snapshot format {format};")),
            "{report}"
        );
        let mut server = Server::start_in(&data, &[]);
        let seen = upgrade::observe(&server);
        assert_eq!(
            seen,
            expected,
            "fixture {name}: today's build reads a different state\n{}",
            server.log_text()
        );
        // And again after a restart: what the upgraded build wrote (its snapshot on
        // shutdown, its journal records) reads back the same.
        assert!(server.terminate().success(), "clean shutdown");
        let server = Server::start_in(&data, &[]);
        assert_eq!(
            upgrade::observe(&server),
            expected,
            "fixture {name} after a restart"
        );
    }
}
