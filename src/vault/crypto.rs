//! Vault's AES256 cipher: PBKDF2-HMAC-SHA256 (10,000 iterations) derives 80
//! bytes from the password and salt: a 32-byte AES key, a 32-byte HMAC key
//! and a 16-byte initial counter. The PKCS#7-padded plaintext is encrypted
//! with AES-256 in CTR mode (128-bit big-endian counter, as Python's
//! `cryptography`), and HMAC-SHA256 of the ciphertext authenticates it. The
//! HMAC is verified in constant time before anything is decrypted; every key
//! is zeroized when dropped.

use super::format::Payload;
use aes::cipher::{KeyIvInit, StreamCipher};
use hmac::{KeyInit, Mac};
use sha2::Sha256;
use thiserror::Error;
use zeroize::Zeroizing;

type Aes256Ctr = ctr::Ctr128BE<aes::Aes256>;
type HmacSha256 = hmac::Hmac<Sha256>;

const ITERATIONS: u32 = 10_000;
const SALT_LEN: usize = 32;
const BLOCK: usize = 16;

/// Why decryption failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CryptoError {
    /// The HMAC does not match: a wrong password, or modified data.
    #[error("HMAC verification failed (wrong password, or the data was modified)")]
    Hmac,
    /// The HMAC matched but the padding is invalid (not made by ansible-vault).
    #[error("bad padding after decryption (the data was not made by ansible-vault)")]
    Padding,
    /// The system's random number generator failed.
    #[error("cannot get random bytes for the salt: {0}")]
    Random(String),
}

struct Keys {
    derived: Zeroizing<[u8; 80]>,
}

impl Keys {
    fn derive(password: &[u8], salt: &[u8]) -> Keys {
        let mut derived = Zeroizing::new([0u8; 80]);
        pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, ITERATIONS, derived.as_mut_slice());
        Keys { derived }
    }
    fn cipher_key(&self) -> &[u8] {
        &self.derived[..32]
    }
    fn hmac_key(&self) -> &[u8] {
        &self.derived[32..64]
    }
    fn iv(&self) -> &[u8] {
        &self.derived[64..]
    }
    fn hmac(&self) -> HmacSha256 {
        // HMAC takes keys of any length: this cannot fail.
        <HmacSha256 as KeyInit>::new_from_slice(self.hmac_key())
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"))
    }
    fn apply(&self, data: &mut [u8]) {
        let mut cipher = Aes256Ctr::new_from_slices(self.cipher_key(), self.iv())
            .unwrap_or_else(|_| unreachable!("the key is 32 bytes and the IV 16"));
        cipher.apply_keystream(data);
    }
}

/// Encrypts with a fresh random salt.
pub fn encrypt(plaintext: &[u8], password: &[u8]) -> Result<Payload, CryptoError> {
    let mut salt = vec![0u8; SALT_LEN];
    getrandom::fill(&mut salt).map_err(|e| CryptoError::Random(e.to_string()))?;
    Ok(encrypt_with_salt(plaintext, password, salt))
}

/// Encrypts with a given salt (deterministic: for tests).
pub fn encrypt_with_salt(plaintext: &[u8], password: &[u8], salt: Vec<u8>) -> Payload {
    let keys = Keys::derive(password, &salt);
    let pad = BLOCK - plaintext.len() % BLOCK;
    let mut data = Vec::with_capacity(plaintext.len() + pad);
    data.extend_from_slice(plaintext);
    data.extend(std::iter::repeat_n(pad as u8, pad));
    keys.apply(&mut data);
    let mut mac = keys.hmac();
    mac.update(&data);
    let hmac = mac.finalize().into_bytes().to_vec();
    Payload {
        salt,
        hmac,
        ciphertext: data,
    }
}

/// Verifies the HMAC (in constant time), then decrypts and unpads.
pub fn decrypt(payload: &Payload, password: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let keys = Keys::derive(password, &payload.salt);
    let mut mac = keys.hmac();
    mac.update(&payload.ciphertext);
    mac.verify_slice(&payload.hmac)
        .map_err(|_| CryptoError::Hmac)?;
    let mut data = Zeroizing::new(payload.ciphertext.clone());
    keys.apply(&mut data);
    let pad = usize::from(*data.last().ok_or(CryptoError::Padding)?);
    if pad == 0 || pad > BLOCK || pad > data.len() {
        return Err(CryptoError::Padding);
    }
    let body = data.len() - pad;
    if data[body..].iter().any(|&b| usize::from(b) != pad) {
        return Err(CryptoError::Padding);
    }
    data.truncate(body);
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_padding() {
        for len in [0, 1, 15, 16, 17, 100] {
            let plain = vec![b'x'; len];
            let p = encrypt(&plain, b"pw").unwrap();
            assert_eq!(p.ciphertext.len(), (len / 16 + 1) * 16);
            assert_eq!(decrypt(&p, b"pw").unwrap().as_slice(), &plain[..]);
        }
    }

    #[test]
    fn wrong_password_and_tampering_fail_the_hmac() {
        let p = encrypt(b"secret", b"pw").unwrap();
        assert_eq!(decrypt(&p, b"other"), Err(CryptoError::Hmac));
        let mut t = p.clone();
        t.ciphertext[0] ^= 1;
        assert_eq!(decrypt(&t, b"pw"), Err(CryptoError::Hmac));
        let mut t = p;
        t.hmac[31] ^= 1;
        assert_eq!(decrypt(&t, b"pw"), Err(CryptoError::Hmac));
    }
}
