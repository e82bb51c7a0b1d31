//! 32-byte SHA-256 digests as they appear on the wire: lowercase hex strings.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

/// A SHA-256 digest. Wrapped by [`ContentHash`] and [`ChainHash`] so that the
/// two cannot be mixed up.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest32(pub [u8; 32]);

impl Digest32 {
    pub fn of(bytes: &[u8]) -> Self {
        Digest32(Sha256::digest(bytes).into())
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses exactly 64 lowercase hex digits; uppercase is refused so that one
    /// hash has one spelling everywhere (it is also a database key).
    pub fn from_hex(text: &str) -> Result<Self, HashParseError> {
        if text.len() != 64 {
            return Err(HashParseError::Length(text.chars().count()));
        }
        if !text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(HashParseError::Digits);
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(text, &mut out).map_err(|_| HashParseError::Digits)?;
        Ok(Digest32(out))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashParseError {
    #[error("must be 64 hex digits, found {0} characters")]
    Length(usize),
    #[error("must be lowercase hex digits 0-9 a-f")]
    Digits,
}

macro_rules! digest_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub Digest32);

        impl $name {
            pub fn from_bytes(bytes: [u8; 32]) -> Self {
                $name(Digest32(bytes))
            }
            pub fn as_bytes(&self) -> &[u8; 32] {
                &self.0 .0
            }
            pub fn to_hex(&self) -> String {
                self.0.to_hex()
            }
            pub fn from_hex(text: &str) -> Result<Self, HashParseError> {
                Digest32::from_hex(text).map($name)
            }
            /// For reading a BLOB column back; `None` when it is not 32 bytes.
            pub fn from_slice(bytes: &[u8]) -> Option<Self> {
                <[u8; 32]>::try_from(bytes).ok().map(Self::from_bytes)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.to_hex())
            }
        }

        impl FromStr for $name {
            type Err = HashParseError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::from_hex(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.to_hex())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Self::from_hex(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

digest_newtype!(
    /// `sha256(canonical(record))`: a record's identity on the wire and in both stores.
    ContentHash
);
digest_newtype!(
    /// Links a journal entry to everything before it; see [`crate::chain`].
    ChainHash
);

impl ContentHash {
    /// The SHA-256 of everything `reader` yields: a page scan's name, read
    /// in pieces (a scan is up to 50 MB).
    pub fn of_reader(mut reader: impl std::io::Read) -> std::io::Result<ContentHash> {
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        Ok(ContentHash(Digest32(hasher.finalize().into())))
    }
}

impl fmt::Debug for Digest32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_strictness() {
        let h = ContentHash(Digest32::of(b"abc"));
        assert_eq!(
            h.to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(ContentHash::from_hex(&h.to_hex()), Ok(h));
        assert_eq!(
            ContentHash::from_hex(&h.to_hex().to_uppercase()),
            Err(HashParseError::Digits)
        );
        assert_eq!(ContentHash::from_hex("abc"), Err(HashParseError::Length(3)));
        assert_eq!(ContentHash::of_reader(&b"abc"[..]).unwrap(), h);
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(serde_json::from_str::<ContentHash>(&json).unwrap(), h);
    }
}
