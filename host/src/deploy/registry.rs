//! The Windows registry behind a small trait, so the install plan and `doctor` are tested on
//! Linux against [`MemoryRegistry`], and run on Windows (and under wine) against the real one.

use super::locations::RegistryKey;
use std::collections::BTreeMap;
use std::io;

/// A named value as `doctor` reads it from a policy key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegValue {
    /// `REG_SZ` or `REG_EXPAND_SZ` (unexpanded).
    Str(String),
    /// `REG_DWORD`.
    Dword(u32),
    /// `REG_MULTI_SZ`.
    MultiStr(Vec<String>),
}

/// The operations deployment needs on a key: its default value (install, registrations), and
/// for `doctor` the named values and subkeys of policy keys.
pub trait Registry {
    /// The key's default value; `None` when the key does not exist.
    fn get(&self, key: &RegistryKey) -> io::Result<Option<String>>;
    /// Creates the key if needed and sets its default value.
    fn set(&mut self, key: &RegistryKey, value: &str) -> io::Result<()>;
    /// Deletes the key; `false` when it was not there.
    fn delete(&mut self, key: &RegistryKey) -> io::Result<bool>;
    /// The key's named values (not the default one), sorted by name; `None` when the key does
    /// not exist.
    fn values(&self, key: &RegistryKey) -> io::Result<Option<Vec<(String, RegValue)>>> {
        let _ = key;
        Ok(None)
    }
    /// The names of the key's subkeys, sorted; empty when the key does not exist.
    fn subkeys(&self, key: &RegistryKey) -> io::Result<Vec<String>> {
        let _ = key;
        Ok(Vec::new())
    }
}

/// An in-memory registry for tests.
#[derive(Debug, Default, Clone)]
pub struct MemoryRegistry {
    /// Every key that exists, with its default value.
    pub keys: BTreeMap<RegistryKey, String>,
    /// Named values of keys (a key with values exists even without a default value).
    pub values: BTreeMap<RegistryKey, BTreeMap<String, RegValue>>,
}

impl MemoryRegistry {
    /// Sets the named value `name` of `key` (tests).
    pub fn set_value(&mut self, key: &RegistryKey, name: &str, value: RegValue) {
        self.values.entry(key.clone()).or_default().insert(name.to_string(), value);
    }
}

impl Registry for MemoryRegistry {
    fn get(&self, key: &RegistryKey) -> io::Result<Option<String>> {
        Ok(self.keys.get(key).cloned())
    }

    fn values(&self, key: &RegistryKey) -> io::Result<Option<Vec<(String, RegValue)>>> {
        let exists = self.keys.contains_key(key) || self.values.contains_key(key);
        let below = self.subkeys(key)?;
        if !exists && below.is_empty() {
            return Ok(None);
        }
        let values = self.values.get(key).map(|v| v.clone().into_iter().collect()).unwrap_or_default();
        Ok(Some(values))
    }

    fn subkeys(&self, key: &RegistryKey) -> io::Result<Vec<String>> {
        let prefix = format!("{}\\", key.path.to_ascii_lowercase());
        let mut names: Vec<String> = self
            .keys
            .keys()
            .chain(self.values.keys())
            .filter(|k| k.hive == key.hive && k.view == key.view)
            .filter(|k| k.path.to_ascii_lowercase().starts_with(&prefix))
            .filter_map(|k| k.path[prefix.len()..].split('\\').next().map(str::to_string))
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    fn set(&mut self, key: &RegistryKey, value: &str) -> io::Result<()> {
        self.keys.insert(key.clone(), value.to_string());
        Ok(())
    }

    fn delete(&mut self, key: &RegistryKey) -> io::Result<bool> {
        Ok(self.keys.remove(key).is_some())
    }
}

/// Stands in for the registry where there is none: reads find nothing, writes fail.
#[derive(Debug, Default)]
pub struct NoRegistry;

impl Registry for NoRegistry {
    fn get(&self, _key: &RegistryKey) -> io::Result<Option<String>> {
        Ok(None)
    }

    fn set(&mut self, _key: &RegistryKey, _value: &str) -> io::Result<()> {
        Err(io::Error::new(io::ErrorKind::Unsupported, "this OS has no registry"))
    }

    fn delete(&mut self, _key: &RegistryKey) -> io::Result<bool> {
        Ok(false)
    }
}

/// The registry of this machine: the real one on Windows, [`NoRegistry`] elsewhere.
pub fn system_registry() -> Box<dyn Registry> {
    #[cfg(windows)]
    {
        Box::new(windows::WindowsRegistry)
    }
    #[cfg(not(windows))]
    {
        Box::new(NoRegistry)
    }
}

#[cfg(windows)]
mod windows {
    //! The real registry through `winreg`, with an explicit view on every call so a 32-bit or
    //! 64-bit build writes the same keys.
    use super::super::locations::{Hive, View};
    use super::RegValue;
    use super::{Registry, RegistryKey};
    use std::io;
    use winreg::enums::{
        RegType, HKEY_CURRENT_USER, HKEY_LOCAL_MACHINE, KEY_ENUMERATE_SUB_KEYS, KEY_QUERY_VALUE,
        KEY_SET_VALUE, KEY_WOW64_32KEY, KEY_WOW64_64KEY,
    };
    use winreg::RegKey;

    /// The machine's registry.
    pub struct WindowsRegistry;

    fn root(key: &RegistryKey) -> RegKey {
        RegKey::predef(match key.hive {
            Hive::LocalMachine => HKEY_LOCAL_MACHINE,
            Hive::CurrentUser => HKEY_CURRENT_USER,
        })
    }

    fn view_flag(key: &RegistryKey) -> u32 {
        match key.view {
            View::Native => KEY_WOW64_64KEY,
            View::Wow32 => KEY_WOW64_32KEY,
        }
    }

    impl Registry for WindowsRegistry {
        fn get(&self, key: &RegistryKey) -> io::Result<Option<String>> {
            match root(key).open_subkey_with_flags(&key.path, KEY_QUERY_VALUE | view_flag(key)) {
                Ok(k) => match k.get_value::<String, _>("") {
                    Ok(v) => Ok(Some(v)),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Some(String::new())),
                    Err(e) => Err(e),
                },
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            }
        }

        fn set(&mut self, key: &RegistryKey, value: &str) -> io::Result<()> {
            let (k, _) = root(key).create_subkey_with_flags(&key.path, KEY_SET_VALUE | view_flag(key))?;
            k.set_value("", &value)
        }

        fn delete(&mut self, key: &RegistryKey) -> io::Result<bool> {
            match root(key).delete_subkey_with_flags(&key.path, view_flag(key)) {
                Ok(()) => Ok(true),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
                Err(e) => Err(e),
            }
        }

        fn values(&self, key: &RegistryKey) -> io::Result<Option<Vec<(String, RegValue)>>> {
            let k = match root(key).open_subkey_with_flags(&key.path, KEY_QUERY_VALUE | view_flag(key)) {
                Ok(k) => k,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e),
            };
            let mut out = Vec::new();
            for entry in k.enum_values() {
                let (name, raw) = entry?;
                if name.is_empty() {
                    continue;
                }
                let value = match raw.vtype {
                    RegType::REG_DWORD => RegValue::Dword(k.get_value::<u32, _>(&name)?),
                    RegType::REG_MULTI_SZ => RegValue::MultiStr(k.get_value::<Vec<String>, _>(&name)?),
                    RegType::REG_SZ | RegType::REG_EXPAND_SZ => {
                        RegValue::Str(k.get_value::<String, _>(&name)?)
                    }
                    // Other types carry no policy doctor reads.
                    _ => continue,
                };
                out.push((name, value));
            }
            out.sort_by(|a, b| a.0.cmp(&b.0));
            Ok(Some(out))
        }

        fn subkeys(&self, key: &RegistryKey) -> io::Result<Vec<String>> {
            let k = match root(key).open_subkey_with_flags(&key.path, KEY_ENUMERATE_SUB_KEYS | view_flag(key))
            {
                Ok(k) => k,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
                Err(e) => return Err(e),
            };
            let mut names = k.enum_keys().collect::<io::Result<Vec<String>>>()?;
            names.sort();
            Ok(names)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::locations::{Hive, View};

    fn key(path: &str) -> RegistryKey {
        RegistryKey { hive: Hive::LocalMachine, view: View::Native, path: path.into() }
    }

    #[test]
    fn memory_registry_lists_values_and_direct_subkeys() {
        let mut registry = MemoryRegistry::default();
        registry.set_value(
            &key("Software\\Policies\\Chromium"),
            "NativeMessagingUserLevelHosts",
            RegValue::Dword(0),
        );
        registry.set_value(
            &key("Software\\Policies\\Chromium\\NativeMessagingBlocklist"),
            "1",
            RegValue::Str("*".into()),
        );
        registry.set_value(
            &key("Software\\Policies\\Chromium\\3rdparty\\extensions\\x\\policy"),
            "a",
            RegValue::Dword(1),
        );
        let values = registry.values(&key("Software\\Policies\\Chromium")).expect("read");
        assert_eq!(values, Some(vec![("NativeMessagingUserLevelHosts".into(), RegValue::Dword(0))]));
        assert_eq!(
            registry.subkeys(&key("Software\\Policies\\Chromium")).expect("read"),
            vec!["3rdparty".to_string(), "NativeMessagingBlocklist".to_string()]
        );
        // A key that only has subkeys exists, with no values.
        assert_eq!(
            registry.values(&key("Software\\Policies\\Chromium\\3rdparty")).expect("read"),
            Some(vec![])
        );
        assert_eq!(registry.values(&key("Software\\Policies\\Google")).expect("read"), None);
        // The other view is another key.
        let wow = RegistryKey { view: View::Wow32, ..key("Software\\Policies\\Chromium") };
        assert_eq!(registry.values(&wow).expect("read"), None);
    }
}
