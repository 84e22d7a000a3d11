//! `credbox cache clear` and `credbox cache list`.

use std::process::ExitCode;

use credbox::{Cache, Error, ErrorKind, Runtime, files};

/// The cache directory, or none when there is none yet.
fn existing_cache() -> Result<Option<Cache>, Error> {
    let dir = credbox::cache::default_dir().ok_or_else(|| {
        Error::new(
            ErrorKind::Usage,
            "no cache directory: set CREDBOX_CACHE_DIR or HOME",
        )
    })?;
    if !dir.exists() {
        return Ok(None);
    }
    Cache::open(&dir)
        .map(Some)
        .map_err(|why| Error::new(ErrorKind::Usage, why))
}

/// `cache clear [--profile P]`: a profile the files do not define is a mistake to say, not
/// "removed 0" (labels of credentials got without a profile, `run:...` and `plugin:...`, are
/// taken as they are).
pub(super) fn clear(profile: Option<String>) -> Result<ExitCode, Error> {
    if let Some(name) = &profile
        && !name.starts_with("run:")
        && !name.starts_with("plugin:")
    {
        let locations = files::locate_from_env();
        let runtime = Runtime::new().map_err(Error::internal)?;
        if credbox::configure::properties(&runtime, &locations, name)?.is_empty() {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "profile {name} is in neither {} nor {}; nothing removed (`credbox cache list` shows what is cached)",
                    locations.config, locations.credentials
                ),
            ));
        }
    }
    let Some(cache) = existing_cache()? else {
        return Ok(ExitCode::SUCCESS);
    };
    let removed = cache
        .clear(profile.as_deref())
        .map_err(|e| Error::internal(anyhow::anyhow!("clearing {}: {e}", cache.dir().display())))?;
    eprintln!(
        "credbox: removed {removed} cached credential(s) from {}",
        cache.dir().display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `cache list`: what is cached, without secrets, and when each entry is refreshed.
pub(super) fn list(profile: Option<String>, min_ttl: std::time::Duration) -> Result<ExitCode, Error> {
    let Some(cache) = existing_cache()? else {
        println!("nothing cached");
        return Ok(ExitCode::SUCCESS);
    };
    let now = credbox::text::unix_now();
    let mut rows: Vec<[String; 5]> =
        vec![["Profile", "Source", "Key", "Expires", "Refresh"].map(String::from)];
    for entry in cache.list() {
        if profile.as_deref().is_some_and(|p| p != entry.profile) {
            continue;
        }
        let source = match &entry.source {
            credbox::cache::ListedSource::Process(program) => format!("process {program}"),
            credbox::cache::ListedSource::Plugin(path) => format!("plugin {path}"),
            credbox::cache::ListedSource::Role { role_arn, source_key } => {
                format!("role {role_arn} (source {source_key})")
            }
        };
        let refresh_at = entry.refresh_at(min_ttl.as_secs());
        let refresh = if entry.expiration <= now {
            "expired".to_string()
        } else if refresh_at <= now {
            "due".to_string()
        } else {
            format!("in {}", credbox::text::format_span(refresh_at - now))
        };
        rows.push([
            credbox::text::printable(&entry.profile).into_owned(),
            credbox::text::printable(&source).into_owned(),
            entry.access_key,
            credbox::text::format_time(entry.expiration),
            refresh,
        ]);
    }
    if rows.len() == 1 {
        println!(
            "nothing cached{}",
            profile.map(|p| format!(" for profile {p}")).unwrap_or_default()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let width = |column: usize| rows.iter().map(|r| r[column].chars().count()).max().unwrap_or(0);
    let widths = [width(0), width(1), width(2), width(3)];
    for [a, b, c, d, e] in &rows {
        println!(
            "{a:<w0$}  {b:<w1$}  {c:<w2$}  {d:<w3$}  {e}",
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3]
        );
    }
    Ok(ExitCode::SUCCESS)
}
