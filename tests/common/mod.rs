//! Hermetic runs of the real binary: a temp `SSPRCTL_HOME`, none of the caller's ssprctl or
//! Azure environment, and helpers to parse what it printed.

#![allow(dead_code)]

use std::path::PathBuf;

use assert_cmd::Command;
use serde_json::Value;

pub struct Env {
    pub home: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Self {
        Env {
            home: tempfile::tempdir().unwrap(),
        }
    }

    /// The default directory's file.
    pub fn db(&self) -> PathBuf {
        self.home.path().join("directory.db")
    }

    pub fn cmd(&self) -> Command {
        Command::from_std(self.std_cmd())
    }

    /// The same as [`Env::cmd`], for spawning processes that run at once.
    pub fn std_cmd(&self) -> std::process::Command {
        let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("ssprctl"));
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy().to_string();
            let proxy = k.to_ascii_lowercase().ends_with("_proxy");
            // Every variable a credential could come from (CI systems and Azure hosts set them).
            let credential = [
                "SSPRCTL_",
                "AZURE_",
                "AZURESUBSCRIPTION_",
                "ACTIONS_ID_TOKEN_",
                "SYSTEM_OIDCREQUESTURI",
                "SYSTEM_ACCESSTOKEN",
                "IDENTITY_",
                "IMDS_ENDPOINT",
                "MSI_",
                "KRB5",
            ]
            .iter()
            .any(|p| k.starts_with(p));
            if credential || proxy {
                c.env_remove(&k);
            }
        }
        // No `az` from the machine: the Azure CLI credential is tested with a stand-in.
        c.env("PATH", "/nonexistent");
        c.env("SSPRCTL_HOME", self.home.path());
        c.env("HOME", self.home.path());
        c
    }

    /// Runs with args; returns (exit code, stdout, stderr).
    pub fn run(&self, args: &[&str]) -> (i32, String, String) {
        self.run_stdin(args, "")
    }

    pub fn run_stdin(&self, args: &[&str], stdin: &str) -> (i32, String, String) {
        let out = self.cmd().args(args).write_stdin(stdin).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    }

    /// Runs a command that must succeed and print JSON; returns it.
    pub fn json(&self, args: &[&str]) -> Value {
        let (code, out, err) = self.run(args);
        assert_eq!(code, 0, "{args:?}\nstdout: {out}\nstderr: {err}");
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
    }

    /// Every user as JSON: the directory's state, to compare before and after.
    pub fn state(&self) -> Value {
        let users = self.json(&["get-user", "--all", "-o", "json"]);
        let mut auth = Vec::new();
        for u in users.as_array().unwrap() {
            let upn = u["userPrincipalName"].as_str().unwrap();
            auth.push(self.json(&["get-auth-details", upn, "-o", "json"]));
        }
        serde_json::json!({ "users": users, "auth": auth })
    }
}

/// The JSON error line that ends stderr in JSON modes.
pub fn json_error(stderr: &str) -> Value {
    let last = stderr.lines().last().expect("stderr has a line");
    serde_json::from_str(last).unwrap_or_else(|e| panic!("{e}: {stderr}"))
}

/// The lines of Microsoft's pre-population guide, (its user@domain.com is replaced by a real user).
pub const GUIDE: &str = r#"Connect-MsolService
Set-MsolUser -UserPrincipalName user@domain.com -AlternateEmailAddresses @("email@domain.com")
Set-MsolUser -UserPrincipalName user@domain.com -MobilePhone "+1 4251234567"
Set-MsolUser -UserPrincipalName user@domain.com -PhoneNumber "+1 4252345678"
Set-MsolUser -UserPrincipalName user@domain.com -AlternateEmailAddresses @("email@domain.com") -MobilePhone "+1 4251234567" -PhoneNumber "+1 4252345678"
Get-MsolUser -UserPrincipalName user@domain.com | select AlternateEmailAddresses
Get-MsolUser -UserPrincipalName user@domain.com | select MobilePhone
Get-MsolUser -UserPrincipalName user@domain.com | select PhoneNumber
Get-MsolUser | select DisplayName,UserPrincipalName,AlternateEmailAddresses,MobilePhone,PhoneNumber | Format-Table
Get-MsolUser -UserPrincipalName user@domain.com | select -Expand StrongAuthenticationUserDetails | select PhoneNumber
Get-MsolUser -UserPrincipalName user@domain.com | select -Expand StrongAuthenticationUserDetails | select Email
Get-Module AzureADPreview
Install-Module AzureADPreview
Connect-AzureAD
Set-AzureADUser -ObjectId user@domain.com -OtherMails @("email@domain.com")
Set-AzureADUser -ObjectId user@domain.com -Mobile "+1 4251234567"
Set-AzureADUser -ObjectId user@domain.com -TelephoneNumber "+1 4252345678"
Set-AzureADUser -ObjectId user@domain.com -OtherMails @("emails@domain.com") -Mobile "+1 4251234567" -TelephoneNumber "+1 4252345678"
Get-AzureADUser -ObjectID user@domain.com | select otherMails
Get-AzureADUser -ObjectID user@domain.com | select Mobile
Get-AzureADUser -ObjectID user@domain.com | select TelephoneNumber
Get-AzureADUser | select DisplayName,UserPrincipalName,otherMails,Mobile,TelephoneNumber | Format-Table
"#;
