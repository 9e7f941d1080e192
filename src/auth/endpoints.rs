//! Clouds and the hosts ssprctl talks to. Overrides must be `https://`, except loopback hosts,
//! which tests (and local emulators) use over plain `http://`.

use std::net::IpAddr;

use reqwest::Url;

/// The national clouds Microsoft Graph runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Cloud {
    /// Microsoft's global cloud.
    Global,
    /// US Government (GCC High, L4).
    Usgov,
    /// US Government DoD (L5).
    #[value(name = "usgov-dod")]
    UsgovDod,
    /// China, operated by 21Vianet.
    China,
}

impl Cloud {
    /// (login host, Graph host)
    pub fn hosts(self) -> (&'static str, &'static str) {
        match self {
            Cloud::Global => (
                "https://login.microsoftonline.com",
                "https://graph.microsoft.com",
            ),
            Cloud::Usgov => (
                "https://login.microsoftonline.us",
                "https://graph.microsoft.us",
            ),
            Cloud::UsgovDod => (
                "https://login.microsoftonline.us",
                "https://dod-graph.microsoft.us",
            ),
            Cloud::China => (
                "https://login.chinacloudapi.cn",
                "https://microsoftgraph.chinacloudapi.cn",
            ),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Cloud::Global => "global",
            Cloud::Usgov => "usgov",
            Cloud::UsgovDod => "usgov-dod",
            Cloud::China => "china",
        }
    }
}

/// Where requests go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub cloud: Cloud,
    /// Graph host; `/v1.0/...` is appended.
    pub graph: Url,
    /// Login host; `/{tenant}/oauth2/v2.0/token` and `/devicecode` are appended.
    pub login: Url,
    /// Token scope: always the cloud's Graph resource, even when the Graph host is overridden.
    pub scope: String,
}

/// Why an override URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{flag} {url}: {reason}")]
pub struct UrlError {
    pub flag: &'static str,
    pub url: String,
    pub reason: String,
}

/// True for 127.0.0.0/8, ::1 and localhost.
pub fn is_loopback(url: &Url) -> bool {
    match url.host_str() {
        Some("localhost") => true,
        Some(h) => h
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}

/// Parses an override: `https://` anywhere, `http://` only to a loopback address.
pub fn parse_override(flag: &'static str, raw: &str) -> Result<Url, UrlError> {
    let err = |reason: &str| UrlError {
        flag,
        url: raw.to_string(),
        reason: reason.to_string(),
    };
    let url = Url::parse(raw.trim()).map_err(|e| err(&format!("not a URL ({e})")))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(err(
                "plain http:// is refused except to a loopback address (tokens would travel unencrypted)",
            ));
        }
        _ => return Err(err("only https:// URLs are accepted")),
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(err("give the host (and path prefix) only, without ? or #"));
    }
    Ok(url)
}

impl Endpoints {
    pub fn new(cloud: Cloud, graph: Option<&str>, login: Option<&str>) -> Result<Self, UrlError> {
        let (login_host, graph_host) = cloud.hosts();
        let parse_default = |u: &str| Url::parse(u).expect("built-in hosts parse");
        Ok(Endpoints {
            cloud,
            graph: match graph {
                Some(g) => parse_override("--graph-url", g)?,
                None => parse_default(graph_host),
            },
            login: match login {
                Some(l) => parse_override("--authority-host", l)?,
                None => parse_default(login_host),
            },
            scope: format!("{graph_host}/.default"),
        })
    }

    /// `{base}/{segments…}` with each segment percent-encoded.
    pub fn join(base: &Url, segments: &[&str]) -> Url {
        let mut url = base.clone();
        {
            let mut path = url.path_segments_mut().expect("http(s) URLs have paths");
            path.pop_if_empty();
            for s in segments {
                path.push(s);
            }
        }
        url
    }

    /// True when both hosts are on this machine (an emulator): no proxy is used for them.
    pub fn all_loopback(&self) -> bool {
        is_loopback(&self.graph) && is_loopback(&self.login)
    }

    /// The cloud's Graph resource (the scope without `/.default`), as managed identity and the
    /// Azure CLI name it.
    pub fn resource(&self) -> &str {
        self.scope.trim_end_matches("/.default")
    }

    pub fn token_url(&self, tenant: &str) -> Url {
        Self::join(&self.login, &[tenant, "oauth2", "v2.0", "token"])
    }

    pub fn device_code_url(&self, tenant: &str) -> Url {
        Self::join(&self.login, &[tenant, "oauth2", "v2.0", "devicecode"])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clouds_pick_hosts_and_scope() {
        let e = Endpoints::new(Cloud::UsgovDod, None, None).unwrap();
        assert_eq!(e.graph.as_str(), "https://dod-graph.microsoft.us/");
        assert_eq!(e.login.as_str(), "https://login.microsoftonline.us/");
        assert_eq!(e.scope, "https://dod-graph.microsoft.us/.default");
        let e = Endpoints::new(
            Cloud::Global,
            Some("http://127.0.0.1:8080"),
            Some("http://[::1]:9"),
        )
        .unwrap();
        assert_eq!(e.scope, "https://graph.microsoft.com/.default");
        assert_eq!(
            e.token_url("contoso.onmicrosoft.com").as_str(),
            "http://[::1]:9/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
    }

    #[test]
    fn plain_http_only_to_loopback() {
        assert!(parse_override("--graph-url", "http://localhost:1").is_ok());
        assert!(parse_override("--graph-url", "http://127.8.0.1").is_ok());
        let e = parse_override("--graph-url", "http://graph.example.com").unwrap_err();
        assert!(e.reason.contains("loopback"));
        assert!(parse_override("--graph-url", "ftp://x").is_err());
        assert!(parse_override("--graph-url", "https://proxy.example.com/graph").is_ok());
    }

    #[test]
    fn path_segments_are_encoded() {
        let base = Url::parse("https://graph.microsoft.com").unwrap();
        let u = Endpoints::join(
            &base,
            &[
                "v1.0",
                "users",
                "kim_fabrikam.com#EXT#@contoso.onmicrosoft.com",
            ],
        );
        assert_eq!(
            u.as_str(),
            "https://graph.microsoft.com/v1.0/users/kim_fabrikam.com%23EXT%23@contoso.onmicrosoft.com"
        );
    }
}
