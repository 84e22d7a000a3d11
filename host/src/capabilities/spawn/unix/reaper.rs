//! Helpers that leave their process group (setsid) are still found and killed: credbox becomes
//! their subreaper, remembers which helpers are running, and reaps what is reparented to it.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::KILL_GRACE;

/// Make this process the "child subreaper" (Linux): a helper's descendants whose parents exit are
/// reparented to us instead of to init, so that a timeout can find and kill the ones that left
/// the helper's process group with setsid(). The `credbox` binary calls this at start-up; a
/// library user that wants the same guarantee calls it too.
///
/// Every process reparented to us then becomes our child, so only a process that has no other
/// children of its own should call this (not `exec --server`, whose command's daemons would be
/// reparented to it); orphans that exit are reaped before each helper run.
///
/// Other Unix systems have no subreaper: there this does nothing, and a helper's descendant that
/// calls setsid() escapes the timeout's kill (docs/SECURITY.md, "Platforms").
pub fn become_subreaper() -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: prctl with integer arguments only.
        if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } == -1 {
            return Err(std::io::Error::last_os_error());
        }
        SUBREAPER.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    Ok(())
}

/// Whether [`become_subreaper`] succeeded in this process.
pub(super) static SUBREAPER: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The helpers being run now (their pids): their own threads wait for them, so they are never
/// reaped or killed as orphans.
static RUNNING: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// A helper's place in [`RUNNING`], for as long as [`run`] handles it.
pub(super) struct Running(u32);

impl Running {
    /// Start a helper with `spawn` and register it in one step, under the lock [`reap_orphans`]
    /// checks: a helper that exits at once is never taken for an orphan and reaped before it
    /// is registered (which would free its pid, and its process group ID, before any kill).
    pub(super) fn spawn(
        spawn: impl FnOnce() -> std::io::Result<std::process::Child>,
    ) -> std::io::Result<(std::process::Child, Running)> {
        let mut running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
        let child = spawn()?;
        let pid = child.id();
        running.push(pid);
        Ok((child, Running(pid)))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|&pid| pid != self.0);
    }
}

/// As a subreaper, reap the orphans that have exited (a daemon an earlier helper left, which
/// ended since), so that a long-running `serve` does not collect zombies. Peeks first
/// (`WNOWAIT`), so a running helper's exit stays for its own thread to collect.
pub(super) fn reap_orphans() {
    if !SUBREAPER.load(std::sync::atomic::Ordering::Relaxed) {
        return;
    }
    loop {
        // SAFETY: waitid fills a zeroed siginfo_t; WNOWAIT leaves the child waitable.
        let pid = unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            if libc::waitid(
                libc::P_ALL,
                0,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            ) != 0
            {
                return;
            }
            info.si_pid()
        };
        if pid <= 0
            || RUNNING
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains(&(pid as u32))
        {
            return;
        }
        // SAFETY: reaps exactly the orphan just seen.
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG) };
    }
}

/// The start time of process `pid` in clock ticks since boot (`/proc/PID/stat` field 22), and
/// its parent (field 4).
fn process_stat(pid: u32) -> Option<(u32, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: fields resume after the last ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    Some((fields.get(1)?.parse().ok()?, fields.get(19)?.parse().ok()?))
}

pub(super) fn process_start(pid: u32) -> Option<u64> {
    process_stat(pid).map(|(_, start)| start)
}

/// After a timeout: SIGKILL every process that was reparented to us (we are a subreaper) and
/// started no earlier than the helper, with everything below it, then reap them. These are the
/// helper's descendants that escaped its process group with setsid(); processes started before
/// the helper (the command `exec --server` runs, a daemon an earlier helper left) are spared.
pub(super) fn kill_escaped(helper_started: Option<u64>) {
    // Without the helper's start time there is no telling its orphans from others: kill none.
    let Some(helper_started) = helper_started else {
        return;
    };
    if !SUBREAPER.load(std::sync::atomic::Ordering::Relaxed) {
        return;
    }
    let us = std::process::id();
    let until = Instant::now() + KILL_GRACE;
    while Instant::now() < until {
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return;
        };
        let table: Vec<(u32, u32, u64)> = entries
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter_map(|pid| process_stat(pid).map(|(ppid, start)| (pid, ppid, start)))
            .collect();
        let running = RUNNING.lock().unwrap().clone();
        let mut doomed: Vec<u32> = table
            .iter()
            .filter(|(pid, ppid, start)| *ppid == us && *start >= helper_started && !running.contains(pid))
            .map(|(pid, _, _)| *pid)
            .collect();
        if doomed.is_empty() {
            return;
        }
        // Their descendants too, which may not have been orphaned yet.
        let mut i = 0;
        while i < doomed.len() {
            let parent = doomed[i];
            doomed.extend(
                table
                    .iter()
                    .filter(|(_, ppid, _)| *ppid == parent)
                    .map(|(pid, _, _)| *pid),
            );
            i += 1;
        }
        for &pid in &doomed {
            // SAFETY: kill(2) and a non-blocking waitpid(2) on processes found above.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGKILL);
            }
        }
        for &pid in &doomed {
            // Our own children among them are reaped here; the rest go to their own parents.
            for _ in 0..100 {
                // SAFETY: waitpid on one specific pid, non-blocking.
                let reaped =
                    unsafe { libc::waitpid(pid as libc::pid_t, std::ptr::null_mut(), libc::WNOHANG) };
                if reaped != 0 {
                    break;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
}
