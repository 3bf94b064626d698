//! Network facts from `/sys/class/net`, `ip addr show` and `ip route get`,
//! shaped like Ansible's Linux network collector.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde_json::{Map, Value, json};

use super::raw::Raw;
use crate::vars::Vars;

/// Address Ansible asks the IPv4 routing table about.
pub(super) const V4_PROBE: &str = "8.8.8.8";
/// Address Ansible asks the IPv6 routing table about.
pub(super) const V6_PROBE: &str = "2404:6800:400a:800::1012";

type Obj = Map<String, Value>;

/// Inserts `interfaces`, one fact per interface (`eth0`, `lo`, ...; `:` in
/// alias names becomes `_`), `default_ipv4`, `default_ipv6`,
/// `all_ipv4_addresses` and `all_ipv6_addresses`.
pub(super) fn network(raw: &Raw<'_>, facts: &mut Vars) {
    let mut ifaces: BTreeMap<String, Obj> = BTreeMap::new();
    // Raw sysfs MAC per device (Ansible copies it into default_ipv4 as is).
    let mut macs: BTreeMap<String, String> = BTreeMap::new();

    for (dev, attrs) in raw.sys_net() {
        let mut i = Obj::new();
        i.insert("device".into(), json!(dev));
        if let Some(mac) = attrs.get("address") {
            macs.insert(dev.to_owned(), (*mac).to_owned());
            if !mac.is_empty() && *mac != "00:00:00:00:00:00" {
                i.insert("macaddress".into(), json!(mac));
            }
        }
        if let Some(mtu) = attrs.get("mtu").and_then(|m| m.parse::<i64>().ok()) {
            i.insert("mtu".into(), json!(mtu));
        }
        if let Some(state) = attrs.get("operstate") {
            i.insert("active".into(), json!(*state != "down"));
        }
        if let Some(t) = attrs.get("type") {
            let kind = match *t {
                "1" => "ether",
                "32" => "infiniband",
                "512" => "ppp",
                "772" => "loopback",
                "65534" => "tunnel",
                _ => "unknown",
            };
            i.insert("type".into(), json!(kind));
        }
        if raw.exists(&format!("/sys/class/net/{dev}/bridge")) {
            i.insert("type".into(), json!("bridge"));
        } else if raw.exists(&format!("/sys/class/net/{dev}/bonding")) {
            i.insert("type".into(), json!("bonding"));
        }
        if let Some(speed) = attrs.get("speed").and_then(|s| s.parse::<i64>().ok()) {
            i.insert("speed".into(), json!(speed));
        }
        if let Some(flags) = attrs
            .get("flags")
            .and_then(|f| i64::from_str_radix(f.trim_start_matches("0x"), 16).ok())
        {
            i.insert("promisc".into(), json!(flags & 0x100 != 0));
        }
        ifaces.insert(dev.to_owned(), i);
    }

    let mut default_ipv4 = route(raw, "ip_route4", V4_PROBE);
    let mut default_ipv6 = route(raw, "ip_route6", V6_PROBE);
    let mut all_v4 = Vec::new();
    let mut all_v6 = Vec::new();

    let mut device = String::new();
    for line in raw.section("ip_addr") {
        let text = line.text;
        let words: Vec<&str> = text.split_whitespace().collect();
        let Some(&first) = words.first() else {
            continue;
        };
        if !text.starts_with(char::is_whitespace) {
            // "2: eth0@if5: <BROADCAST,UP,LOWER_UP> mtu 1500 ..."
            let Some(name) = words.get(1) else { continue };
            let name = name.trim_end_matches(':');
            device = name.split('@').next().unwrap_or(name).to_owned();
            let entry = ifaces.entry(device.clone()).or_insert_with(|| {
                let mut i = Obj::new();
                i.insert("device".into(), json!(device));
                let up = words
                    .get(2)
                    .is_some_and(|f| f.trim_matches(['<', '>']).split(',').any(|f| f == "UP"));
                i.insert("active".into(), json!(up));
                i
            });
            if !entry.contains_key("mtu")
                && let Some(mtu) = word_after(&words, "mtu").and_then(|m| m.parse::<i64>().ok())
            {
                entry.insert("mtu".into(), json!(mtu));
            }
            continue;
        }
        if device.is_empty() {
            continue;
        }
        if let Some(kind) = first.strip_prefix("link/") {
            let mac = words.get(1).copied().unwrap_or_default();
            macs.entry(device.clone()).or_insert_with(|| mac.to_owned());
            if let Some(entry) = ifaces.get_mut(&device) {
                if !entry.contains_key("type") {
                    let kind = match kind {
                        "ether" | "loopback" | "infiniband" | "ppp" => kind,
                        "none" | "ipip" | "sit" | "gre" | "ip6tnl" => "tunnel",
                        _ => "unknown",
                    };
                    entry.insert("type".into(), json!(kind));
                }
                if !entry.contains_key("macaddress")
                    && mac.contains(':')
                    && mac != "00:00:00:00:00:00"
                {
                    entry.insert("macaddress".into(), json!(mac));
                }
            }
            continue;
        }
        let mac = macs
            .get(&device)
            .cloned()
            .unwrap_or_else(|| "unknown".to_owned());
        let dev_info = |ifaces: &BTreeMap<String, Obj>| {
            let i = ifaces.get(&device);
            (
                i.and_then(|i| i.get("mtu")).cloned().unwrap_or(Value::Null),
                i.and_then(|i| i.get("type"))
                    .cloned()
                    .unwrap_or_else(|| json!("unknown")),
            )
        };
        match first {
            "inet" if words.len() > 1 => {
                let (address, prefix) = match words[1].split_once('/') {
                    Some((a, p)) => (a, p),
                    None => (words[1], "32"),
                };
                let (Ok(addr), Ok(bits)) = (address.parse::<Ipv4Addr>(), prefix.parse::<u32>())
                else {
                    continue;
                };
                let bits = bits.min(32);
                let mask = if bits == 0 {
                    0
                } else {
                    u32::MAX << (32 - bits)
                };
                let netmask = Ipv4Addr::from(mask).to_string();
                let network = Ipv4Addr::from(u32::from(addr) & mask).to_string();
                let broadcast = word_after(&words, "brd").unwrap_or_default();
                let v4 = json!({
                    "address": address, "broadcast": broadcast, "netmask": netmask,
                    "network": network, "prefix": prefix,
                });
                let label = words[words.len() - 1];
                let secondary = words.contains(&"secondary");
                let key = label.replace(':', "_");
                let target = ifaces.entry(key).or_default();
                if !secondary && !target.contains_key("ipv4") {
                    target.insert("ipv4".into(), v4.clone());
                } else {
                    push(target, "ipv4_secondaries", v4.clone());
                }
                if secondary && label != device {
                    push(
                        ifaces.entry(device.clone()).or_default(),
                        "ipv4_secondaries",
                        v4,
                    );
                }
                if default_ipv4.get("address").and_then(Value::as_str) == Some(address) {
                    let (mtu, kind) = dev_info(&ifaces);
                    for (k, v) in [
                        ("broadcast", json!(broadcast)),
                        ("netmask", json!(netmask)),
                        ("network", json!(network)),
                        ("prefix", json!(prefix)),
                        ("macaddress", json!(mac)),
                        ("mtu", mtu),
                        ("type", kind),
                        ("alias", json!(label)),
                    ] {
                        default_ipv4.insert(k.into(), v);
                    }
                }
                if !address.starts_with("127.") {
                    all_v4.push(json!(address));
                }
            }
            "inet6" if words.len() > 3 => {
                let (address, prefix, scope) = if words[2] == "peer" {
                    let prefix = words[3].split_once('/').map_or("128", |(_, p)| p);
                    (words[1], prefix, words.get(5).copied().unwrap_or_default())
                } else {
                    let (a, p) = words[1].split_once('/').unwrap_or((words[1], "128"));
                    (a, p, word_after(&words, "scope").unwrap_or_default())
                };
                let v6 = json!({"address": address, "prefix": prefix, "scope": scope});
                push(ifaces.entry(device.clone()).or_default(), "ipv6", v6);
                if default_ipv6.get("address").and_then(Value::as_str) == Some(address) {
                    let (mtu, kind) = dev_info(&ifaces);
                    for (k, v) in [
                        ("prefix", json!(prefix)),
                        ("scope", json!(scope)),
                        ("macaddress", json!(mac)),
                        ("mtu", mtu),
                        ("type", kind),
                    ] {
                        default_ipv6.insert(k.into(), v);
                    }
                }
                if address != "::1" {
                    all_v6.push(json!(address));
                }
            }
            _ => {}
        }
    }

    let names: Vec<Value> = ifaces.keys().map(|k| json!(k)).collect();
    facts.insert("interfaces".into(), Value::Array(names));
    for (name, iface) in ifaces {
        // Never let an odd interface name shadow a real fact.
        if !facts.contains_key(&name) {
            facts.insert(name, Value::Object(iface));
        }
    }
    facts.insert("default_ipv4".into(), Value::Object(default_ipv4));
    facts.insert("default_ipv6".into(), Value::Object(default_ipv6));
    facts.insert("all_ipv4_addresses".into(), Value::Array(all_v4));
    facts.insert("all_ipv6_addresses".into(), Value::Array(all_v6));
    if raw.exists("cmd:ip") {
        facts.insert("locally_reachable_ips".into(), locally_reachable(raw));
    }
}

/// `interface`, `address`, `gateway` from `ip route get PROBE`, accepted only
/// if the first word is the probe address (as Ansible checks).
fn route(raw: &Raw<'_>, section: &str, probe: &str) -> Obj {
    let mut out = Obj::new();
    let Some(first) = raw.first(section) else {
        return out;
    };
    let words: Vec<&str> = first.split_whitespace().collect();
    if words.first() != Some(&probe) {
        return out;
    }
    for pair in words.windows(2) {
        match pair[0] {
            "dev" => out.insert("interface".into(), json!(pair[1])),
            "src" => out.insert("address".into(), json!(pair[1])),
            "via" if pair[1] != probe => out.insert("gateway".into(), json!(pair[1])),
            _ => None,
        };
    }
    out
}

fn word_after<'a>(words: &[&'a str], key: &str) -> Option<&'a str> {
    words
        .iter()
        .position(|w| *w == key)
        .and_then(|i| words.get(i + 1))
        .copied()
}

fn push(obj: &mut Obj, key: &str, value: Value) {
    if let Value::Array(a) = obj.entry(key).or_insert_with(|| json!([])) {
        a.push(value);
    }
}

/// `locally_reachable_ips`: the `local` routes of both local tables (a
/// whole prefix routed to the host counts), first seen first.
fn locally_reachable(raw: &Raw<'_>) -> Value {
    let (mut v4, mut v6): (Vec<Value>, Vec<Value>) = (Vec::new(), Vec::new());
    for line in raw
        .section("ip_local4")
        .iter()
        .chain(raw.section("ip_local6"))
    {
        let mut words = line.text.split_whitespace();
        if words.next() != Some("local") {
            continue;
        }
        let Some(address) = words.next() else {
            continue;
        };
        let list = if address.contains(':') {
            &mut v6
        } else {
            &mut v4
        };
        if !list.iter().any(|a| a == address) {
            list.push(json!(address));
        }
    }
    json!({"ipv4": v4, "ipv6": v6})
}
