//! Where a store lives, as the config names it: a SQLite file or a
//! PostgreSQL database.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgSslMode};

/// Where a store lives, as the config names it (`[store] path` or `url`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite database file.
    Sqlite(PathBuf),
    /// A PostgreSQL database.
    Postgres(PgTarget),
}

/// A PostgreSQL database as `[store] url` names it: a URL
/// (`postgres://user@host:5432/db?sslmode=require`) or libpq's key=value
/// form (`host=/var/run/postgresql dbname=feedwatch user=feedwatch`), and
/// the password read from `[store] password_file`, if any. Shown without
/// its password.
#[derive(Clone, PartialEq, Eq)]
pub struct PgTarget {
    spec: String,
    password: Option<String>,
}

/// The keys of libpq's key=value form that feedwatch passes on.
const CONNINFO_KEYS: &[&str] = &[
    "host",
    "port",
    "dbname",
    "user",
    "password",
    "sslmode",
    "sslrootcert",
    "application_name",
];

impl PgTarget {
    /// Parses a connection string (URL or key=value), or says in one
    /// sentence what is wrong with it.
    pub fn parse(spec: &str) -> Result<PgTarget, String> {
        let target = PgTarget {
            spec: spec.trim().to_string(),
            password: None,
        };
        target.connect_options()?;
        Ok(target)
    }

    /// This target with the password from `[store] password_file`.
    pub fn with_password(mut self, password: String) -> PgTarget {
        self.password = Some(password);
        self
    }

    /// What the driver connects with. Settings the string leaves out come
    /// from libpq's environment variables (`PGHOST`, `PGUSER`, ...), as for
    /// `psql`.
    pub fn connect_options(&self) -> Result<PgConnectOptions, String> {
        let mut options = if is_url(&self.spec) {
            PgConnectOptions::from_str(&self.spec)
                .map_err(|e| format!("is not a PostgreSQL URL the driver accepts: {e}"))?
        } else {
            let mut options = PgConnectOptions::new();
            for (key, value) in conninfo_pairs(&self.spec)? {
                options = match key.as_str() {
                    // As libpq: a host that is a path is the directory of
                    // the server's Unix socket.
                    "host" if value.starts_with('/') => options.socket(&value),
                    "host" => options.host(&value),
                    "port" => options.port(
                        value
                            .parse()
                            .map_err(|_| format!("port {value:?} is not a port number"))?,
                    ),
                    "dbname" => options.database(&value),
                    "user" => options.username(&value),
                    "password" => options.password(&value),
                    "sslmode" => options.ssl_mode(
                        PgSslMode::from_str(&value)
                            .map_err(|_| format!("sslmode {value:?} is not one of disable, allow, prefer, require, verify-ca, verify-full"))?,
                    ),
                    "sslrootcert" => options.ssl_root_cert(value.as_str()),
                    "application_name" => options.application_name(&value),
                    _ => {
                        return Err(format!(
                            "{key:?} is not a connection setting feedwatch passes on (use one of: {})",
                            CONNINFO_KEYS.join(", ")
                        ))
                    }
                };
            }
            options
        };
        if let Some(password) = &self.password {
            options = options.password(password);
        }
        Ok(options.application_name("feedwatch"))
    }
}

impl std::fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PgTarget({self})")
    }
}

/// The connection string without its password.
impl std::fmt::Display for PgTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if is_url(&self.spec) {
            match url::Url::parse(&self.spec) {
                Ok(mut url) => {
                    if url.password().is_some() {
                        let _ = url.set_password(Some("***"));
                    }
                    write!(f, "{url}")
                }
                Err(_) => f.write_str("(an unreadable PostgreSQL URL)"),
            }
        } else {
            let shown: Vec<String> = conninfo_pairs(&self.spec)
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| {
                    if k == "password" {
                        format!("{k}=***")
                    } else {
                        format!("{k}={v}")
                    }
                })
                .collect();
            f.write_str(&shown.join(" "))
        }
    }
}

fn is_url(spec: &str) -> bool {
    let lower = spec.to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

/// libpq's `key=value key='quoted value'` pairs.
fn conninfo_pairs(spec: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    let mut chars = spec.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(pairs);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            return Err(format!(
                "{key:?} has no value (key=value pairs, e.g. host=/var/run/postgresql dbname=feedwatch)"
            ));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    Some('\\') => value.extend(chars.next()),
                    Some('\'') => break,
                    Some(c) => value.push(c),
                    None => return Err(format!("the value of {key:?} has no closing quote")),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    value.extend(chars.next());
                } else {
                    value.push(c);
                }
            }
        }
        pairs.push((key, value));
    }
}

impl Location {
    /// The store a `[store] url` names: `sqlite:///abs/path`, `sqlite://rel`
    /// or `sqlite:rel` (a file path); `postgres://…`/`postgresql://…` or a
    /// libpq `key=value` string (a PostgreSQL database); or the one
    /// sentence saying why it names none.
    pub fn from_url(url: &str) -> std::result::Result<Location, String> {
        if is_url(url) || (url.contains('=') && !url.contains("://") && !url.starts_with("sqlite:")) {
            return PgTarget::parse(url).map(Location::Postgres);
        }
        let rest = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .ok_or_else(|| format!("{url:?} is not a store URL: it must start with sqlite:// or postgres:// (for example sqlite:///var/lib/feedwatch/feedwatch.db), or be a PostgreSQL key=value string (host=/var/run/postgresql dbname=feedwatch)"))?;
        // Driver options (`?mode=rwc`) are not taken: the store sets its own.
        if rest.contains('?') || rest.contains('#') {
            return Err(
                "takes a file path only (no ?options): the store chooses its own connection settings".into(),
            );
        }
        if rest.is_empty() {
            return Err(
                "names no database file (for example sqlite:///var/lib/feedwatch/feedwatch.db)".into(),
            );
        }
        Ok(Location::Sqlite(PathBuf::from(rest)))
    }

    /// This location with a relative file path taken relative to `base`
    /// (the config file's directory).
    pub fn relative_to(self, base: &Path) -> Location {
        match self {
            Location::Sqlite(path) => Location::Sqlite(base.join(path)),
            postgres @ Location::Postgres(_) => postgres,
        }
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Sqlite(path) => write!(f, "{}", path.display()),
            Location::Postgres(target) => write!(f, "{target}"),
        }
    }
}

/// A bare path is a SQLite database file (as `[store] path` says).
impl From<&Path> for Location {
    fn from(path: &Path) -> Location {
        Location::Sqlite(path.to_path_buf())
    }
}

impl From<&PathBuf> for Location {
    fn from(path: &PathBuf) -> Location {
        Location::Sqlite(path.clone())
    }
}

impl From<PathBuf> for Location {
    fn from(path: PathBuf) -> Location {
        Location::Sqlite(path)
    }
}

impl From<&Location> for Location {
    fn from(location: &Location) -> Location {
        location.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_urls_and_conninfo_strings_name_a_database_without_showing_the_password() {
        let Location::Postgres(url) =
            Location::from_url("postgres://fw:secret@db.example:5433/news").unwrap()
        else {
            panic!("a PostgreSQL URL");
        };
        assert_eq!(url.to_string(), "postgres://fw:***@db.example:5433/news");
        let options = url.connect_options().unwrap();
        assert_eq!(options.get_port(), 5433);
        assert_eq!(options.get_database(), Some("news"));

        let Location::Postgres(socket) =
            Location::from_url("host=/var/run/postgresql dbname=feedwatch user=fw password='a b'").unwrap()
        else {
            panic!("a conninfo string");
        };
        assert_eq!(
            socket.to_string(),
            "host=/var/run/postgresql dbname=feedwatch user=fw password=***"
        );
        let options = socket.connect_options().unwrap();
        assert_eq!(options.get_socket(), Some(&PathBuf::from("/var/run/postgresql")));
        assert_eq!(options.get_username(), "fw");

        let unknown = Location::from_url("host=db dbnme=fw").unwrap_err();
        assert!(
            unknown.contains("\"dbnme\" is not a connection setting"),
            "{unknown}"
        );
        let port = Location::from_url("host=db port=x").unwrap_err();
        assert!(port.contains("port \"x\" is not a port number"), "{port}");
        let quote = Location::from_url("host=db password='open").unwrap_err();
        assert!(quote.contains("no closing quote"), "{quote}");
    }
}
