//! Real nginx processes for the tests: [`TlsProxy`] in front of the test Elasticsearch (HTTPS
//! with a certificate from a throwaway CA, and basic or API-key authentication, as secured
//! clusters and their gateways ask for), and [`CacheProxy`], a shared HTTP cache in front of a
//! door (`proxy_cache`, as a CDN or an ingress with caching would be).
//!
//! Each nginx runs as one process (`master_process off`) from its own directory, so the PID we
//! hold is the only one to stop, and dropping the proxy stops it even when a test fails.

use std::path::{Path, PathBuf};
use std::process::Command;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};

use super::es_url;
use super::process::Process;
use super::server::free_port;

/// What the proxy demands before it passes a request on.
pub enum ProxyAuth {
    /// `Authorization: Basic …` checked against an htpasswd file.
    Basic {
        /// The one user.
        username: String,
        /// Its password.
        password: String,
    },
    /// `Authorization: ApiKey KEY`, the header Elasticsearch's API keys travel in.
    ApiKey(String),
}

/// One nginx process and its directory. Dropping it kills the process by its PID and removes
/// the directory.
struct Nginx {
    /// Stopped before the directory is removed.
    process: Option<Process>,
    dir: PathBuf,
    port: u16,
}

impl Nginx {
    /// A fresh directory and a free port for an nginx about to be configured. nginx refuses
    /// port 0 in `listen` ("invalid port"), so it is given one that was free a moment ago.
    fn prepare(kind: &str) -> Nginx {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!(
            "wx-stats-nginx-{kind}-{}-{port}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Nginx {
            process: None,
            dir,
            port,
        }
    }

    /// Writes nginx.conf with `http` (its log and servers) as the body of its `http {}` block,
    /// starts nginx and waits until it accepts connections.
    async fn start(mut self, http: &str) -> Nginx {
        write(&self.dir, "nginx.conf", &config(&self.dir, http));
        let mut command = Command::new(nginx_binary());
        command
            .arg("-p")
            .arg(&self.dir)
            .arg("-e")
            .arg(self.dir.join("error.log"))
            .arg("-c")
            .arg(self.dir.join("nginx.conf"));
        let process = Process::start("nginx", &mut command)
            .unwrap_or_else(|e| panic!("cannot start nginx: {e}"));
        let process = self.process.insert(process);
        if let Err(why) = process.wait_listening(self.port).await {
            panic!("{why}; its error log:\n{}", self.error_log());
        }
        self
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name)).unwrap_or_default()
    }

    fn error_log(&self) -> String {
        self.read("error.log")
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        drop(self.process.take());
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A running nginx in front of the test Elasticsearch. Dropping it kills the process by its PID
/// and removes its directory.
pub struct TlsProxy {
    nginx: Nginx,
    /// `https://127.0.0.1:PORT`.
    pub url: String,
    /// `127.0.0.1:PORT`, for a TCP-level proxy in front of this one.
    pub address: String,
    /// The PEM file of the CA that signed the proxy's certificate, for `ES_CA_CERT`.
    pub ca_cert: PathBuf,
}

impl TlsProxy {
    /// Writes a CA, a certificate for 127.0.0.1 and localhost, and a config that proxies to
    /// the test Elasticsearch, then starts nginx and waits until it accepts connections.
    pub async fn start(auth: ProxyAuth) -> TlsProxy {
        Self::start_with(auth, None).await
    }

    /// The same, but what passes authentication is answered 403 with `body` (JSON), as a
    /// secured Elasticsearch answers a user whose roles do not allow the search: the
    /// authentication is checked first, as Elasticsearch checks it, and then refused by an
    /// upstream of nginx's own (a second server on a Unix socket) instead of the test
    /// Elasticsearch, which runs without security.
    pub async fn forbidding(auth: ProxyAuth, body: &str) -> TlsProxy {
        Self::start_with(auth, Some(body)).await
    }

    async fn start_with(auth: ProxyAuth, forbidden: Option<&str>) -> TlsProxy {
        let nginx = Nginx::prepare("tls");
        let (dir, port) = (&nginx.dir, nginx.port);
        let ca_cert = write_certificates(dir);
        let auth_directives = match &auth {
            ProxyAuth::Basic { username, password } => {
                // nginx reads `{PLAIN}` passwords as they are: no hashing tool needed.
                write(
                    dir,
                    "htpasswd",
                    &format!("{username}:{{PLAIN}}{password}\n"),
                );
                format!(
                    "auth_basic \"Elasticsearch\";\n      auth_basic_user_file {};",
                    dir.join("htpasswd").display()
                )
            }
            ProxyAuth::ApiKey(key) => format!(
                "if ($http_authorization != \"ApiKey {key}\") {{\n        \
                 add_header WWW-Authenticate ApiKey always;\n        return 401;\n      }}"
            ),
        };
        let d = dir.display();
        let (upstream, forbidding) = match forbidden {
            // Single quotes: nginx's string, around JSON's double quotes.
            Some(body) => (
                format!("http://unix:{d}/forbidding.sock:"),
                format!(
                    "  server {{
    listen unix:{d}/forbidding.sock;
    default_type application/json;
    location / {{
      return 403 '{body}';
    }}
  }}\n"
                ),
            ),
            None => (es_url(), String::new()),
        };
        let http = format!(
            "  access_log {d}/access.log;
{forbidding}  server {{
    listen 127.0.0.1:{port} ssl;
    ssl_certificate {d}/server.pem;
    ssl_certificate_key {d}/server.key;
    location / {{
      {auth_directives}
      # The proxy owns authentication: Elasticsearch behind it never sees the credentials.
      proxy_set_header Authorization \"\";
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
      proxy_pass {upstream};
    }}
  }}"
        );
        TlsProxy {
            nginx: nginx.start(&http).await,
            url: format!("https://127.0.0.1:{port}"),
            address: format!("127.0.0.1:{port}"),
            ca_cert,
        }
    }

    /// nginx's own error log, for failure messages.
    pub fn error_log(&self) -> String {
        self.nginx.error_log()
    }
}

/// A running nginx that caches what a door answers, as a shared cache does: it keeps an answer
/// as long as the door's `Cache-Control` allows and no longer (no `proxy_cache_valid`, which
/// would override it), keeps one copy per variant the door's `Vary` names, and revalidates a
/// stale copy with `If-None-Match` (`proxy_cache_revalidate`). Every answer carries
/// `X-Cache-Status: $upstream_cache_status` (`MISS`, `HIT`, `EXPIRED`, `REVALIDATED`, …), and the
/// access log has one line per request with that status and the door's own. Dropping it kills
/// the process by its PID and removes its directory, cache included.
pub struct CacheProxy {
    nginx: Nginx,
    /// `http://127.0.0.1:PORT/`: ending in `/`, as the upstream does, so a path or a query
    /// string can follow.
    pub url: String,
}

impl CacheProxy {
    /// Starts nginx caching `upstream`: a door's function URL ending in `/`, such as a door's
    /// base with `/` or the emulator's function URL with its path. A request for `/PATH?QUERY`
    /// is passed on as `upstream` followed by `PATH?QUERY`.
    pub async fn start(upstream: &str) -> CacheProxy {
        assert!(
            upstream.ends_with('/'),
            "{upstream}: the upstream must end in `/`, as Doors::functions' URLs do"
        );
        let nginx = Nginx::prepare("cache");
        let (d, port) = (nginx.dir.display(), nginx.port);
        let http = format!(
            "  log_format cache '$request accept=\"$http_accept\" accept_encoding=\"$http_accept_encoding\" '
                   'status=$status upstream_status=$upstream_status cache=$upstream_cache_status';
  access_log {d}/access.log cache;
  proxy_cache_path {d}/cache levels=1:2 keys_zone=doors:1m;
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_cache doors;
      proxy_cache_revalidate on;
      add_header X-Cache-Status $upstream_cache_status always;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
      proxy_pass {upstream};
    }}
  }}"
        );
        CacheProxy {
            nginx: nginx.start(&http).await,
            url: format!("http://127.0.0.1:{port}/"),
        }
    }

    /// The access log: one line per request, with its `cache=$upstream_cache_status`.
    pub fn access_log(&self) -> String {
        self.nginx.read("access.log")
    }

    /// nginx's own error log, for failure messages.
    pub fn error_log(&self) -> String {
        self.nginx.error_log()
    }
}

/// nginx from PATH, or where Debian puts it (/usr/sbin is not on every user's PATH).
fn nginx_binary() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("nginx"))
        .chain([PathBuf::from("/usr/sbin/nginx")])
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!("nginx not found: install it with `apt-get install nginx` (tests/run does)")
        })
}

/// One process, every path inside `dir`: nothing touches /var or /etc. `http` is the body of
/// the `http {}` block: its log, its servers.
fn config(dir: &Path, http: &str) -> String {
    let d = dir.display();
    format!(
        "daemon off;
master_process off;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 256; }}
http {{
  client_body_temp_path {d}/client_body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
{http}
}}
"
    )
}

/// A CA, and a server certificate it signed for 127.0.0.1 and localhost. Returns the CA's path.
fn write_certificates(dir: &Path) -> PathBuf {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "wx-stats test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate().unwrap();
    let server_params =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    let server_cert = server_params.signed_by(&server_key, &issuer).unwrap();

    write(dir, "server.pem", &server_cert.pem());
    write(dir, "server.key", &server_key.serialize_pem());
    write(dir, "ca.pem", &ca_cert.pem());
    dir.join("ca.pem")
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}
