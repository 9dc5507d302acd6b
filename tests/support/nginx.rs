//! A real nginx in front of the test Elasticsearch: HTTPS with a certificate from a throwaway
//! CA, and basic or API-key authentication, as secured clusters and their gateways ask for.
//!
//! nginx runs as one process (`master_process off`) from its own directory, so the PID we hold
//! is the only one to stop, and dropping the proxy stops it even when a test fails.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};

use super::es_url;
use super::server::{free_port, wait_listening};

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

/// A running nginx. Dropping it kills the process by its PID and removes its directory.
pub struct TlsProxy {
    child: Option<Child>,
    dir: PathBuf,
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
        let port = free_port();
        let dir =
            std::env::temp_dir().join(format!("wx-stats-nginx-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca_cert = write_certificates(&dir);
        let auth_directives = match &auth {
            ProxyAuth::Basic { username, password } => {
                // nginx reads `{PLAIN}` passwords as they are: no hashing tool needed.
                write(
                    &dir,
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
        let config = config(&dir, port, &auth_directives);
        write(&dir, "nginx.conf", &config);
        let child = Command::new(nginx_binary())
            .arg("-p")
            .arg(&dir)
            .arg("-e")
            .arg(dir.join("error.log"))
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start nginx: {e}"));
        let mut proxy = TlsProxy {
            child: Some(child),
            url: format!("https://127.0.0.1:{port}"),
            address: format!("127.0.0.1:{port}"),
            ca_cert,
            dir,
        };
        let child = proxy.child.as_mut().unwrap();
        if let Err(why) = wait_listening(child, port).await {
            panic!("nginx {why}; its log:\n{}", proxy.error_log());
        }
        proxy
    }

    /// nginx's own error log, for failure messages.
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
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

/// One process, every path inside `dir`: nothing touches /var or /etc.
fn config(dir: &Path, port: u16, auth_directives: &str) -> String {
    let d = dir.display();
    let upstream = es_url();
    format!(
        "daemon off;
master_process off;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 256; }}
http {{
  access_log {d}/access.log;
  client_body_temp_path {d}/client_body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  server {{
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
  }}
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
