//! A real Samba Active Directory domain controller on loopback, for the AD tests and bench.
//!
//! Once per process: installs Samba with apt when it is missing and we are root (else fails
//! saying what to install), provisions a throwaway domain `SSPR.TEST` into a temp folder, gives
//! it a TLS certificate for `localhost`/`127.0.0.1` signed by a test CA, starts
//! `samba -i -M single` (LDAP and its own Kerberos KDC, with the SPN `ldap/localhost` on the DC
//! so a ticket for the URL's host can be had) and waits for ports 636 and 88.
//! [`Dc::kinit`] gets a test user a ticket with MIT `kinit` (krb5-user, installed with Samba). Samba's ports are fixed, so a lock
//! file serialises processes that want one. Samba dies with the process (`PR_SET_PDEATHSIG` on
//! a thread that lives as long as the process).
//!
//! `SSPRCTL_SKIP_AD_TESTS=1` skips the AD tests (say why); `.ci/run` never sets it.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const REALM: &str = "SSPR.TEST";
pub const BASE: &str = "DC=sspr,DC=test";
pub const ADMIN: &str = "Administrator@sspr.test";
pub const ADMIN_PASSWORD: &str = "Adm1n!Passw0rd-Test";
/// A bind account that may read but not write other users.
pub const READER: &str = "reader@sspr.test";
pub const READER_PASSWORD: &str = "Read3r!Passw0rd-Test";
pub const PACKAGES: &str = "samba samba-ad-dc samba-ad-provision winbind ldap-utils krb5-user";

pub struct Dc {
    pub dir: PathBuf,
    pub ca: PathBuf,
    pub url: String,
    /// Keeps the temp folder.
    _tmp: tempfile::TempDir,
    _lock: std::fs::File,
}

/// True (after printing why) when the AD tests are skipped on purpose.
pub fn skipped() -> bool {
    if std::env::var("SSPRCTL_SKIP_AD_TESTS").is_ok_and(|v| v == "1") {
        eprintln!("SSPRCTL_SKIP_AD_TESTS=1: the Active Directory tests are skipped");
        return true;
    }
    false
}

/// The process's domain controller, started on first use.
pub fn dc() -> &'static Dc {
    static DC: OnceLock<Dc> = OnceLock::new();
    DC.get_or_init(|| start().unwrap_or_else(|e| panic!("{e}")))
}

fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("can't run {cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Installs Samba with apt when it is missing and we may; else says exactly what to do.
fn ensure_installed() -> Result<(), String> {
    if have("samba") && have("samba-tool") && have("ldapadd") && have("kinit") {
        return Ok(());
    }
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root || !have("apt-get") {
        return Err(format!(
            "the Active Directory tests need a Samba domain controller: install {PACKAGES} \
             (Debian: sudo apt-get install -y {PACKAGES}) and run them as root, \
             or set SSPRCTL_SKIP_AD_TESTS=1 to skip them"
        ));
    }
    eprintln!("installing {PACKAGES} for the Active Directory tests…");
    run(Command::new("apt-get")
        .arg("update")
        .env("DEBIAN_FRONTEND", "noninteractive"))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-q"])
        .args(PACKAGES.split(' '))
        .env("DEBIAN_FRONTEND", "noninteractive"))?;
    Ok(())
}

/// A test CA and a server certificate for localhost / 127.0.0.1 signed by it.
fn certificates(dir: &Path) -> Result<PathBuf, String> {
    let e = |e: rcgen::Error| e.to_string();
    let ca_key = rcgen::KeyPair::generate().map_err(e)?;
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(e)?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "ssprctl test CA");
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).map_err(e)?;
    let key = rcgen::KeyPair::generate().map_err(e)?;
    let mut params =
        rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .map_err(e)?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "localhost");
    let cert = params.signed_by(&key, &ca).map_err(e)?;
    let w = |name: &str, text: String, mode: u32| -> Result<PathBuf, String> {
        use std::os::unix::fs::PermissionsExt;
        let p = dir.join(name);
        std::fs::write(&p, text).map_err(|e| e.to_string())?;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode))
            .map_err(|e| e.to_string())?;
        Ok(p)
    };
    let ca_path = w("ca.pem", ca.pem(), 0o644)?;
    w("tls.pem", cert.pem(), 0o644)?;
    w("tls.key", key.serialize_pem(), 0o600)?;
    Ok(ca_path)
}

fn port_open(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(200),
    )
    .is_ok()
}

fn start() -> Result<Dc, String> {
    ensure_installed()?;
    // One DC per machine at a time: the ports are fixed.
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(std::env::temp_dir().join("ssprctl-samba-dc.lock"))
        .map_err(|e| e.to_string())?;
    {
        use std::os::fd::AsRawFd;
        // SAFETY: a valid open file descriptor.
        if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err("can't lock the Samba DC lock file".into());
        }
    }
    if port_open(636) {
        return Err("port 636 is in use by another process: stop it (another samba?) and run the AD tests again".into());
    }
    let tmp = tempfile::Builder::new()
        .prefix("ssprctl-dc-")
        .tempdir()
        .map_err(|e| e.to_string())?;
    let dir = tmp.path().to_path_buf();
    let t = Instant::now();
    run(Command::new("samba-tool").args([
        "domain",
        "provision",
        &format!("--realm={REALM}"),
        "--domain=SSPR",
        "--server-role=dc",
        "--dns-backend=NONE",
        "--backend-store=mdb",
        &format!("--adminpass={ADMIN_PASSWORD}"),
        &format!("--targetdir={}", dir.display()),
        "--host-name=dc1",
        "--option=interfaces=lo",
        "--option=bind interfaces only=yes",
    ]))?;
    let ca = certificates(&dir)?;
    let conf = dir.join("etc/smb.conf");
    let text = std::fs::read_to_string(&conf).map_err(|e| e.to_string())?;
    let mut out = String::new();
    for line in text.lines() {
        let key = line.trim().split('=').next().unwrap_or("").trim();
        if matches!(key, "server services" | "log file") {
            continue;
        }
        out.push_str(line);
        out.push('\n');
        if line.trim() == "[global]" {
            for (k, v) in [
                ("server services", "ldap kdc".to_string()),
                ("tls enabled", "yes".to_string()),
                ("tls keyfile", dir.join("tls.key").display().to_string()),
                ("tls certfile", dir.join("tls.pem").display().to_string()),
                ("tls cafile", ca.display().to_string()),
                ("pid directory", dir.join("run").display().to_string()),
                ("ncalrpc dir", dir.join("ncalrpc").display().to_string()),
                ("log file", dir.join("log.%m").display().to_string()),
                ("ldb:nosync", "true".to_string()),
                // As Windows DCs do: a Kerberos (GSSAPI) bind over TLS needs no SASL layer of
                // its own (Samba's default refuses it; plain LDAP still needs sign or seal).
                (
                    "ldap server require strong auth",
                    "allow_sasl_over_tls".to_string(),
                ),
                // Every modify request in the JSON audit log: proof of what was (not) written.
                ("log level", "1 dsdb_json_audit:5".to_string()),
            ] {
                out.push_str(&format!("\t{k} = {v}\n"));
            }
        }
    }
    std::fs::write(&conf, out).map_err(|e| e.to_string())?;
    for d in ["run", "ncalrpc"] {
        std::fs::create_dir_all(dir.join(d)).map_err(|e| e.to_string())?;
    }
    spawn_samba(&conf, &dir)?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !port_open(636) {
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(dir.join("samba.out")).unwrap_or_default();
            return Err(format!("samba did not open port 636 within 60 s:\n{log}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    while !port_open(88) {
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(dir.join("samba.out")).unwrap_or_default();
            return Err(format!(
                "samba's KDC did not open port 88 within 60 s:\n{log}"
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let dc = Dc {
        url: "ldaps://localhost:636".into(),
        ca,
        dir,
        _tmp: tmp,
        _lock: lock,
    };
    // An account that may bind and read, but not write other users.
    run(Command::new("samba-tool")
        .args(["user", "create", "reader", READER_PASSWORD])
        .args(["-s", conf.to_str().unwrap()]))?;
    // Kerberos: the DC answers for ldap/localhost (the tests' URL host), and an MIT client
    // configuration that finds the KDC on loopback without DNS.
    run(Command::new("samba-tool")
        .args(["spn", "add", "ldap/localhost", "DC1$"])
        .args(["-s", conf.to_str().unwrap()]))?;
    std::fs::write(
        dc.krb5_conf(),
        format!(
            "[libdefaults]\n default_realm = {REALM}\n dns_lookup_kdc = false\n dns_lookup_realm = false\n \
             rdns = false\n dns_canonicalize_hostname = false\n udp_preference_limit = 0\n\n\
             [realms]\n {REALM} = {{\n  kdc = 127.0.0.1:88\n }}\n\n[domain_realm]\n localhost = {REALM}\n"
        ),
    )
    .map_err(|e| e.to_string())?;
    eprintln!("Samba AD DC up in {:.1} s", t.elapsed().as_secs_f64());
    Ok(dc)
}

/// Starts samba from a thread that lives as long as the process, so that `PR_SET_PDEATHSIG`
/// (which follows the spawning thread) ends samba exactly when the tests end.
fn spawn_samba(conf: &Path, dir: &Path) -> Result<(), String> {
    let (tx, rx) = std::sync::mpsc::channel();
    let conf = conf.to_path_buf();
    let log = dir.join("samba.out");
    std::thread::spawn(move || {
        use std::os::unix::process::CommandExt;
        let out = std::fs::File::create(&log).expect("samba log");
        let mut cmd = Command::new("samba");
        cmd.args(["-i", "-M", "single", "-s"])
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log"))
            .stderr(out);
        // SAFETY: prctl is async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        match cmd.spawn() {
            Ok(_child) => {
                let _ = tx.send(Ok(()));
                loop {
                    std::thread::park();
                }
            }
            Err(e) => {
                let _ = tx.send(Err(format!("can't start samba: {e}")));
            }
        }
    });
    rx.recv().map_err(|e| e.to_string())?
}

impl Dc {
    pub fn conf(&self) -> PathBuf {
        self.dir.join("etc/smb.conf")
    }

    /// The MIT Kerberos client configuration for this DC's realm (`KRB5_CONFIG`).
    pub fn krb5_conf(&self) -> PathBuf {
        self.dir.join("krb5-client.conf")
    }

    /// A ticket for `user` in a new cache file in `dir`, by `kinit` with the password on
    /// stdin; returns the cache (`KRB5CCNAME`).
    pub fn kinit(&self, dir: &Path, user: &str, password: &str) -> PathBuf {
        let cache = dir.join(format!("krb5cc_{user}"));
        let mut child = Command::new("kinit")
            .arg(format!("{user}@{REALM}"))
            .env("KRB5_CONFIG", self.krb5_conf())
            .env("KRB5CCNAME", format!("FILE:{}", cache.display()))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kinit runs");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{password}\n").as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "kinit {user}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        cache
    }

    pub fn ldap_tool(&self, tool: &str) -> Command {
        let mut c = Command::new(tool);
        c.env("LDAPTLS_CACERT", &self.ca).args([
            "-H",
            "ldaps://127.0.0.1",
            "-x",
            "-D",
            ADMIN,
            "-w",
            ADMIN_PASSWORD,
        ]);
        c
    }

    /// Adds entries from an LDIF text.
    pub fn ldapadd(&self, ldif: &str) {
        self.ldif("ldapadd", ldif);
    }

    /// Feeds `text` to an OpenLDAP tool bound as the administrator; it must succeed.
    fn ldif(&self, tool: &str, text: &str) {
        let mut child = self
            .ldap_tool(tool)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{tool}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The values of `attr` on the user `sam`, by `ldapsearch` (the state as AD has it).
    pub fn attr(&self, sam: &str, attr: &str) -> Vec<String> {
        let out = run(self
            .ldap_tool("ldapsearch")
            .args(["-LLL", "-o", "ldif-wrap=no", "-b", BASE])
            .arg(format!("(sAMAccountName={sam})"))
            // `objectGUID:` asks for objectGUID and reads its base64 form (`objectGUID:: …`).
            .arg(attr.trim_end_matches(':')))
        .unwrap();
        let prefix = format!("{attr}: ");
        out.lines()
            .filter_map(|l| l.strip_prefix(&prefix))
            .map(str::to_string)
            .collect()
    }

    /// Modify requests from the network that Samba has logged so far for entries whose DN
    /// contains `dn_part` (its JSON audit log, on samba's stdout with -i). Tests run in
    /// parallel: each counts its own users.
    pub fn modify_requests(&self, dn_part: &str) -> usize {
        std::fs::read_to_string(self.dir.join("samba.out"))
            .unwrap_or_default()
            .lines()
            .filter(|l| {
                l.contains("\"operation\": \"Modify\"")
                    && l.contains("\"remoteAddress\": \"ipv4:")
                    && l.contains(dn_part)
            })
            .count()
    }

    /// Creates `n` users `{prefix}{i:05}` with a mobile phone (some national, some empty).
    pub fn add_users(&self, prefix: &str, n: usize, ou: &str) {
        let mut ldif = String::new();
        for i in 0..n {
            ldif.push_str(&format!(
                "dn: CN={prefix}{i:05},{ou}\nobjectClass: user\nsAMAccountName: {prefix}{i:05}\n\
                 userPrincipalName: {prefix}{i:05}@sspr.test\ndisplayName: {prefix} {i}\nmobile: +1 206555{:04}\n\n",
                i % 10000
            ));
        }
        self.ldapadd(&ldif);
    }
}
