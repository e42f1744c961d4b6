//! Database URLs from `--db` / `OUTAGE_SIM_DATABASE_URL`, parsed once into a [`DbUrl`], and
//! their redacted form: a password is never printed or stored.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// Which database a run uses.
#[derive(Clone, PartialEq, Eq)]
pub enum DbUrl {
    /// `sqlite:PATH` or `sqlite://PATH`.
    Sqlite(PathBuf),
    /// `postgres://…` or `postgresql://…`.
    Postgres(String),
    /// `mysql://…` or `mariadb://…` (sqlx speaks `mysql://`).
    Mysql(String),
}

impl DbUrl {
    /// The backend's name, also the fault catalog's folder.
    pub fn dialect(&self) -> &'static str {
        match self {
            DbUrl::Sqlite(_) => "sqlite",
            DbUrl::Postgres(_) => "postgres",
            DbUrl::Mysql(_) => "mysql",
        }
    }
}

impl FromStr for DbUrl {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let scheme = s.split(':').next().unwrap_or("");
        match scheme {
            "sqlite" => {
                let rest = s
                    .strip_prefix("sqlite://")
                    .or_else(|| s.strip_prefix("sqlite:"))
                    .unwrap_or(s);
                let path = rest.split('?').next().unwrap_or(rest);
                if path.is_empty() {
                    return Err("expected sqlite:PATH, e.g. sqlite:results/mine.db".into());
                }
                Ok(DbUrl::Sqlite(PathBuf::from(path)))
            }
            "postgres" | "postgresql" => Ok(DbUrl::Postgres(s.to_string())),
            "mysql" => Ok(DbUrl::Mysql(s.to_string())),
            "mariadb" => Ok(DbUrl::Mysql(format!("mysql{}", &s["mariadb".len()..]))),
            _ => Err(format!(
                "expected a URL starting with sqlite:, postgres:// or mysql://, got {}",
                redact(s)
            )),
        }
    }
}

/// The URL with any password replaced by `***`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            let hidden = if userinfo.contains(':') {
                format!("{user}:***")
            } else {
                user.to_string()
            };
            format!("{scheme}://{hidden}@{host}{tail}")
        }
        None => url.to_string(),
    }
}

impl fmt::Display for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbUrl::Sqlite(p) => write!(f, "sqlite:{}", p.display()),
            DbUrl::Postgres(u) | DbUrl::Mysql(u) => f.write_str(&redact(u)),
        }
    }
}

/// Debug shows the redacted form too, so a URL in an error or log never leaks a password.
impl fmt::Debug for DbUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DbUrl({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_everywhere_a_url_is_shown() {
        let url: DbUrl = "postgres://app:s3cret@127.0.0.1:5432/test?sslmode=disable"
            .parse()
            .unwrap();
        assert_eq!(
            url.to_string(),
            "postgres://app:***@127.0.0.1:5432/test?sslmode=disable"
        );
        assert!(!format!("{url:?}").contains("s3cret"));
        assert_eq!(
            redact("mysql://root@127.0.0.1:3306/test"),
            "mysql://root@127.0.0.1:3306/test"
        );
        assert_eq!(redact("mysql://u:p@ss@h/db"), "mysql://u:***@h/db");
        let err = "oracle://u:pw@h/db".parse::<DbUrl>().unwrap_err();
        assert!(!err.contains("pw@") && err.contains("sqlite:"), "{err}");
    }

    #[test]
    fn sqlite_urls_name_a_file() {
        assert_eq!(
            "sqlite:a/b.db".parse::<DbUrl>().unwrap(),
            DbUrl::Sqlite("a/b.db".into())
        );
        assert_eq!(
            "sqlite://a.db?mode=rwc".parse::<DbUrl>().unwrap(),
            DbUrl::Sqlite("a.db".into())
        );
        assert!("sqlite:".parse::<DbUrl>().is_err());
        assert!(matches!(
            "mariadb://root@h/test".parse::<DbUrl>().unwrap(),
            DbUrl::Mysql(_)
        ));
    }
}
