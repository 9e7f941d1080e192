//! A test tenant: the Graph emulator, a hermetic environment and a valid access token, and the
//! binary run with `--directory graph` pointed at the emulator.

#![allow(dead_code)]

use super::common::Env;
use super::emulator::Emulator;

pub struct Tenant {
    pub env: Env,
    pub emu: Emulator,
    pub token: String,
}

impl Tenant {
    pub fn new(emu: Emulator) -> Tenant {
        let token = emu.issue_token();
        Tenant {
            env: Env::new(),
            emu,
            token,
        }
    }

    /// The binary with the Graph and login hosts pointed at the emulator, no credential yet.
    pub fn std_cmd(&self, args: &[&str]) -> std::process::Command {
        let mut c = self.env.std_cmd();
        c.args([
            "--directory",
            "graph",
            "--graph-url",
            &self.emu.url,
            "--authority-host",
            &self.emu.url,
        ]);
        c.args(args);
        c
    }

    /// Runs with the access token credential.
    pub fn run(&self, args: &[&str]) -> (i32, String, String) {
        self.run_env(args, &[("SSPRCTL_ACCESS_TOKEN", &self.token)])
    }

    /// Runs with the given environment as the only credentials.
    pub fn run_env(&self, args: &[&str], vars: &[(&str, &str)]) -> (i32, String, String) {
        let mut c = self.std_cmd(args);
        for (k, v) in vars {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    }

    /// Runs a command that must succeed and print JSON.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let (code, out, err) = self.run(args);
        assert_eq!(code, 0, "{args:?}\n{out}\n{err}");
        serde_json::from_str(&out).unwrap()
    }

    /// Writes a file in the test's home and returns its path.
    pub fn file(&self, name: &str, content: &str) -> String {
        let p = self.env.home.path().join(name);
        std::fs::write(&p, content).unwrap();
        p.to_str().unwrap().to_string()
    }
}
