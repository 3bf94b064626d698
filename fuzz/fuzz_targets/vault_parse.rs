//! The vault parser on arbitrary bytes: it never panics, and whatever it
//! accepts serialises back to data that parses to the same payload. One
//! input in 64 also goes through decryption (PBKDF2 is slow by design).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tend::vault::{Secret, Secrets, format};

fuzz_target!(|data: &[u8]| {
    if let Ok(env) = format::parse(data) {
        let text = format::serialize(&env.payload, env.vault_id.as_deref());
        let again = format::parse(text.as_bytes()).expect("serialised vault data parses");
        assert_eq!(again.payload, env.payload);
        let id = |e: &format::Envelope| e.vault_id.clone().unwrap_or_else(|| "default".into());
        assert_eq!(id(&again), id(&env));
    }
    if data.first().is_some_and(|b| b % 64 == 0) {
        let secrets = Secrets::new(vec![Secret {
            id: "default".into(),
            password: b"pw".to_vec().into(),
            origin: "fuzz".into(),
        }]);
        let _ = secrets.decrypt(&data[1..]);
    }
});
