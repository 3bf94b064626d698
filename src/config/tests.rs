use super::*;
use std::collections::HashMap;

struct Fixture {
    dir: tempfile::TempDir,
    vars: HashMap<String, String>,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        std::fs::create_dir_all(dir.path().join("work")).unwrap();
        Fixture {
            dir,
            vars: HashMap::new(),
        }
    }
    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }
    fn env(&mut self, k: &str, v: &str) {
        self.vars.insert(k.into(), v.into());
    }
    fn load(&self) -> Result<Config, ConfigError> {
        self.load_place(&TendTomlPlace::default())
    }
    fn load_place(&self, place: &TendTomlPlace<'_>) -> Result<Config, ConfigError> {
        let vars = self.vars.clone();
        let lookup = move |k: &str| vars.get(k).cloned();
        let env = Env {
            var: &lookup,
            cwd: self.path("work"),
            home: Some(self.path("home")),
        };
        Config::load_with(&env, place)
    }
}

fn cfg_origin(path: PathBuf, line: usize) -> Origin {
    Origin::AnsibleCfg { path, line }
}

#[test]
fn defaults_when_nothing_is_set() {
    let f = Fixture::new();
    let c = f.load().unwrap();
    assert_eq!(c.ansible_cfg, None);
    assert_eq!(c.forks, Setting::default(DEFAULT_FORKS));
    assert_eq!(c.inventory.value, vec!["/etc/ansible/hosts".to_string()]);
    assert_eq!(c.roles_path.value[0], f.path("home/.ansible/roles"));
    assert_eq!(
        c.collections_path.value,
        vec![
            f.path("home/.ansible/collections"),
            PathBuf::from("/usr/share/ansible/collections")
        ]
    );
    assert!(c.connection_vars().is_empty());
    assert!(c.entries().iter().all(|(_, _, o)| **o == Origin::Default));
}

#[test]
fn ansible_cfg_is_found_in_ansibles_order() {
    let mut f = Fixture::new();
    let home = f.write("home/.ansible.cfg", "[defaults]\nforks = 3\n");
    assert_eq!(f.load().unwrap().ansible_cfg, Some(home.clone()));
    let cwd = f.write("work/ansible.cfg", "[defaults]\nforks = 4\n");
    let c = f.load().unwrap();
    assert_eq!(c.ansible_cfg, Some(cwd.clone()));
    assert_eq!(c.forks.value, 4);
    // The first found wins: nothing is merged from the others.
    f.write("elsewhere/ansible.cfg", "[defaults]\nremote_user = x\n");
    f.env("ANSIBLE_CONFIG", f.path("elsewhere").to_str().unwrap());
    let c = f.load().unwrap();
    assert_eq!(c.ansible_cfg, Some(f.path("elsewhere/ansible.cfg")));
    assert_eq!(c.forks, Setting::default(DEFAULT_FORKS));
    // A missing ANSIBLE_CONFIG falls through, as in Ansible.
    f.env("ANSIBLE_CONFIG", "/nonexistent/ansible.cfg");
    assert_eq!(f.load().unwrap().ansible_cfg, Some(cwd));
}

#[test]
fn every_ansible_cfg_setting_is_read_with_its_line() {
    let f = Fixture::new();
    let p = f.write(
        "work/ansible.cfg",
        "[defaults]
inventory = hosts, ../inv/other
forks = 7 ; comment
remote_user = deploy
private_key_file = ~/.ssh/deploy
roles_path = roles:/srv/roles
host_key_checking = False
timeout = 30
vault_password_file = .vault_pass
unknown_key = anything at all
[privilege_escalation]
become = yes
become_method = su
become_user = admin
become_ask_pass = false
[ssh_connection]
ssh_args = -C -o ServerAliveInterval=5
pipelining = True
",
    );
    let c = f.load().unwrap();
    let work = f.path("work");
    assert_eq!(
        c.inventory,
        Setting {
            value: vec![
                work.join("hosts").display().to_string(),
                f.path("inv/other").display().to_string()
            ],
            origin: cfg_origin(p.clone(), 2),
        }
    );
    assert_eq!(
        c.forks,
        Setting {
            value: 7,
            origin: cfg_origin(p.clone(), 3)
        }
    );
    assert_eq!(c.remote_user.value.as_deref(), Some("deploy"));
    assert_eq!(c.private_key_file.value, Some(f.path("home/.ssh/deploy")));
    assert_eq!(
        c.roles_path.value,
        vec![work.join("roles"), PathBuf::from("/srv/roles")]
    );
    assert_eq!(c.host_key_checking.value, HostKeyChecking::Off);
    assert_eq!(c.timeout.value, 30);
    assert_eq!(c.vault_password_file.value, Some(work.join(".vault_pass")));
    assert!(c.r#become.value);
    assert_eq!(c.become_method.value, "su");
    assert_eq!(c.become_user.value, "admin");
    assert_eq!(c.become_ask_pass.origin, cfg_origin(p.clone(), 15));
    assert_eq!(
        c.ssh_args,
        Setting {
            value: Some("-C -o ServerAliveInterval=5".into()),
            origin: cfg_origin(p, 17)
        }
    );
    let v = c.connection_vars();
    assert_eq!(v["ansible_user"], "deploy");
    assert_eq!(v["ansible_timeout"], 30);
    assert_eq!(v["ansible_host_key_checking"], "false");
    assert_eq!(v["ansible_become"], true);
    assert_eq!(v["ansible_become_method"], "su");
    assert_eq!(v["ansible_become_user"], "admin");
    assert_eq!(v["ansible_ssh_args"], "-C -o ServerAliveInterval=5");
    assert_eq!(
        v["ansible_ssh_private_key_file"],
        f.path("home/.ssh/deploy").display().to_string()
    );
}

#[test]
fn precedence_is_cli_then_env_then_tend_toml_then_ansible_cfg() {
    let mut f = Fixture::new();
    let cfg = f.write(
        "work/ansible.cfg",
        "[defaults]\nforks = 3\nremote_user = cfg\ntimeout = 11\ninventory = cfg_hosts\n",
    );
    let toml = f.write("work/tend.toml", "forks = 4\nremote_user = \"toml\"\n");
    f.env("ANSIBLE_FORKS", "5");
    let mut c = f.load().unwrap();
    assert_eq!(c.tend_toml, Some(toml.clone()));
    assert_eq!(c.forks.value, 5);
    assert_eq!(c.forks.origin, Origin::Env("ANSIBLE_FORKS".into()));
    assert_eq!(
        c.remote_user.origin,
        Origin::TendToml {
            path: toml,
            line: 2
        }
    );
    assert_eq!(c.timeout.origin, cfg_origin(cfg.clone(), 4));
    c.apply_cli(CliOverrides {
        forks: Some(6),
        inventory: vec!["cli_hosts".into()],
        ..CliOverrides::default()
    });
    assert_eq!(
        c.forks,
        Setting {
            value: 6,
            origin: Origin::Cli
        }
    );
    assert_eq!(c.inventory.value, vec!["cli_hosts".to_string()]);
    assert_eq!(c.remote_user.value.as_deref(), Some("toml"));
    let dump = c.dump(true);
    assert!(dump.contains("forks = 6  (cli)\n"), "{dump}");
    assert!(dump.contains("remote_user = toml  ("), "{dump}");
    assert!(dump.contains("tend.toml:2)\n"), "{dump}");
    let timeout = format!("timeout = 11  ({}:4)\n", cfg.display());
    assert!(dump.contains(&timeout), "{dump}");
    assert!(!dump.contains("become ="), "only changed: {dump}");
    assert!(c.dump(false).contains("become = false  (default)\n"));
}

#[test]
fn the_last_of_an_options_environment_variables_wins() {
    let mut f = Fixture::new();
    f.env("ANSIBLE_TIMEOUT", "5");
    f.env("ANSIBLE_SSH_TIMEOUT", "6");
    f.env("ANSIBLE_HOST_KEY_CHECKING", "accept-new");
    let c = f.load().unwrap();
    assert_eq!(c.timeout.value, 6);
    assert_eq!(c.timeout.origin, Origin::Env("ANSIBLE_SSH_TIMEOUT".into()));
    assert_eq!(c.host_key_checking.value, HostKeyChecking::AcceptNew);
}

#[test]
fn a_bad_value_is_an_error_naming_its_source() {
    let mut f = Fixture::new();
    let p = f.write("work/ansible.cfg", "[defaults]\n\nforks = lots\n");
    assert_eq!(
        f.load().unwrap_err().to_string(),
        format!("{}:3: forks: `lots` is not a whole number", p.display())
    );
    f.write(
        "work/ansible.cfg",
        "[privilege_escalation]\nbecome = maybe\n",
    );
    assert!(f.load().unwrap_err().to_string().ends_with(
        "ansible.cfg:2: become: `maybe` is not a boolean (true/false, yes/no, on/off, 1/0)"
    ));
    f.write("work/ansible.cfg", "[defaults]\nforks = 0\n");
    assert!(
        f.load()
            .unwrap_err()
            .to_string()
            .ends_with("forks: must be at least 1")
    );
    std::fs::remove_file(f.path("work/ansible.cfg")).unwrap();
    f.env("ANSIBLE_HOST_KEY_CHECKING", "sometimes");
    assert_eq!(
        f.load().unwrap_err().to_string(),
        "environment variable ANSIBLE_HOST_KEY_CHECKING: host_key_checking: `sometimes` is not one of true, false, accept-new"
    );
}

#[test]
fn tend_toml_is_found_beside_the_playbook_or_given() {
    let f = Fixture::new();
    let pb = f.write("play/tend.toml", "[report]\njunit = \"out/junit.xml\"\n");
    let dir = f.path("play");
    let place = TendTomlPlace {
        explicit: None,
        playbook_dir: Some(&dir),
    };
    let c = f.load_place(&place).unwrap();
    assert_eq!(c.tend_toml, Some(pb));
    assert_eq!(c.report.junit.value, Some(f.path("play/out/junit.xml")));
    let given = f.write("given.toml", "forks = \"lots\"\n");
    let place = TendTomlPlace {
        explicit: Some(&given),
        playbook_dir: Some(&dir),
    };
    assert_eq!(
        f.load_place(&place).unwrap_err().to_string(),
        format!("{}:1: forks: `lots` is not a whole number", given.display())
    );
    let missing = f.path("missing.toml");
    let place = TendTomlPlace {
        explicit: Some(&missing),
        playbook_dir: None,
    };
    assert!(
        f.load_place(&place)
            .unwrap_err()
            .to_string()
            .contains("cannot read")
    );
}

#[test]
fn a_world_writable_working_directory_is_not_a_source() {
    use std::os::unix::fs::PermissionsExt;
    let f = Fixture::new();
    f.write("work/ansible.cfg", "[defaults]\nforks = 4\n");
    let home = f.write("home/.ansible.cfg", "[defaults]\nforks = 3\n");
    std::fs::set_permissions(f.path("work"), std::fs::Permissions::from_mode(0o777)).unwrap();
    let c = f.load().unwrap();
    assert_eq!(c.ansible_cfg, Some(home));
    assert_eq!(c.forks.value, 3);
    assert_eq!(c.warnings.len(), 1);
    assert!(c.warnings[0].contains("world writable"), "{:?}", c.warnings);
}

#[test]
fn collections_path_from_ansible_cfg_and_environment() {
    let mut f = Fixture::new();
    f.write(
        "work/ansible.cfg",
        "[defaults]\ncollections_path = cols:/srv/cols\n",
    );
    let c = f.load().unwrap();
    assert_eq!(
        c.collections_path.value,
        vec![f.path("work/cols"), PathBuf::from("/srv/cols")]
    );
    f.env("ANSIBLE_COLLECTIONS_PATH", "/opt/a:/opt/b");
    let c = f.load().unwrap();
    assert_eq!(
        c.collections_path.value,
        vec![PathBuf::from("/opt/a"), PathBuf::from("/opt/b")]
    );
    assert_eq!(
        c.collections_path.origin,
        Origin::Env("ANSIBLE_COLLECTIONS_PATH".into())
    );
}
