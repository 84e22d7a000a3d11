//! The cache's unit tests (Unix: modes and owners).
use super::*;
use crate::command::SpawnCommand;
use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().mode() & 0o7777
}

#[test]
fn entries_are_private_and_replaced_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(&dir.path().join("c")).unwrap();
    assert_eq!(mode(cache.dir()), 0o700);
    let key = CacheKey::new("p", &SpawnCommand::Shell("x".into()), None);
    cache.write(&key, b"one").unwrap();
    cache.write(&key, b"two").unwrap();
    assert_eq!(cache.read(&key).as_deref(), Some(&b"two"[..]));
    assert_eq!(mode(&cache.dir().join(format!("{}.json", key.stem))), 0o600);
    drop(cache.lock(&key, Duration::ZERO).unwrap());
    assert_eq!(cache.clear(Some("other")).unwrap(), 0);
    assert_eq!(cache.clear(Some("p")).unwrap(), 1);
    let left: Vec<_> = fs::read_dir(cache.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, [TAG]);
}

#[test]
fn a_held_lock_is_waited_for_within_the_bound_then_named() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(&dir.path().join("c")).unwrap();
    let key = CacheKey::new("p", &SpawnCommand::Shell("x".into()), None);
    let held = cache.lock(&key, Duration::ZERO).unwrap();
    // A second open of the lock file is another holder, as another process's would be.
    let started = Instant::now();
    let Err(LockError::Held(lock)) = cache.lock(&key, Duration::from_millis(300)) else {
        panic!("the lock was taken twice");
    };
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(300) && waited < Duration::from_secs(2),
        "{waited:?}"
    );
    assert_eq!(lock, cache.dir().join(format!("{}.lock", key.stem)));
    // Released while another waits: it gets the lock well before its bound.
    let waiter = {
        let cache = cache.clone();
        let key = key.clone();
        std::thread::spawn(move || {
            let started = Instant::now();
            cache
                .lock(&key, Duration::from_secs(10))
                .map(|_| started.elapsed())
        })
    };
    std::thread::sleep(Duration::from_millis(100));
    drop(held);
    let took = waiter.join().unwrap().unwrap();
    assert!(took < Duration::from_secs(1), "{took:?}");
}
#[test]
fn a_loose_directory_credbox_created_is_tightened_and_purged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c");
    Cache::open(&path).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o777)).unwrap();
    let planted = path.join(format!("{}-{}.json", "0".repeat(16), "0".repeat(64)));
    fs::write(&planted, b"{}").unwrap();
    fs::set_permissions(&planted, fs::Permissions::from_mode(0o644)).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", path.join("link.json")).unwrap();
    Cache::open(&path).unwrap();
    assert_eq!(mode(&path), 0o700);
    assert!(!planted.exists() && fs::symlink_metadata(path.join("link.json")).is_err());
}

#[test]
fn a_loose_directory_credbox_did_not_create_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    for (name, loose) in [("shared", 0o777), ("sticky", 0o1777)] {
        let path = dir.path().join(name);
        fs::create_dir(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(loose)).unwrap();
        let error = Cache::open(&path).unwrap_err();
        assert!(error.contains(&path.display().to_string()), "{error}");
        assert_eq!(mode(&path), loose, "{name}");
    }
}

#[test]
fn a_symlink_in_place_of_the_directory_is_refused_and_its_target_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim");
    fs::create_dir(&victim).unwrap();
    fs::set_permissions(&victim, fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(victim.join("notes.txt"), b"keep").unwrap();
    std::os::unix::fs::symlink(&victim, dir.path().join("cache")).unwrap();
    let error = Cache::open(&dir.path().join("cache")).unwrap_err();
    assert!(error.contains("symlink"), "{error}");
    assert_eq!(mode(&victim), 0o755);
    assert!(victim.join("notes.txt").exists() && !victim.join(TAG).exists());
}

#[test]
fn files_that_are_not_ours_and_private_are_never_read() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(&dir.path().join("c")).unwrap();
    let key = CacheKey::new("p", &SpawnCommand::Shell("x".into()), None);
    let path = cache.dir().join(format!("{}.json", key.stem));
    fs::write(&path, b"planted").unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(cache.read(&key), None);
    fs::remove_file(&path).unwrap();
    let target = dir.path().join("elsewhere");
    fs::write(&target, b"planted").unwrap();
    fs::set_permissions(&target, fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::symlink(&target, &path).unwrap();
    assert_eq!(cache.read(&key), None);
}

#[test]
fn a_killed_writers_temporary_file_is_removed_by_the_next_write() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(&dir.path().join("c")).unwrap();
    // A pid that cannot exist (above the kernel's maximum), and our own, which is alive.
    let abandoned = cache.dir().join(format!("{TEMP_PREFIX}999999999-1-0"));
    let live = cache
        .dir()
        .join(format!("{TEMP_PREFIX}{}-1-0", std::process::id()));
    for path in [&abandoned, &live] {
        fs::write(path, b"partial").unwrap();
    }
    let key = CacheKey::new("p", &SpawnCommand::Shell("x".into()), None);
    cache.write(&key, b"entry").unwrap();
    assert!(!abandoned.exists());
    assert!(live.exists(), "a writer that is still running keeps its file");
}

#[test]
fn clear_removes_only_credbox_names() {
    // A private folder of other files, as `CREDBOX_CACHE_DIR=$PWD` would use.
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("project");
    fs::DirBuilder::new().mode(0o700).create(&dir).unwrap();
    let cache = Cache::open(&dir).unwrap();
    let key = CacheKey::new("p", &SpawnCommand::Shell("x".into()), None);
    cache.write(&key, b"x").unwrap();
    for other in ["package.json", "Cargo.lock", "notes.lock", "abc-def.json"] {
        fs::write(dir.join(other), b"keep").unwrap();
    }
    assert_eq!(cache.clear(None).unwrap(), 1);
    for other in ["package.json", "Cargo.lock", "notes.lock", "abc-def.json"] {
        assert!(dir.join(other).exists(), "{other}");
    }
}
