//! The Windows registry behind a small trait, so the install plan and `doctor` are tested on
//! Linux against [`MemoryRegistry`], and run on Windows (and under wine) against the real one.

use super::locations::RegistryKey;
use std::collections::BTreeMap;
use std::io;

/// The three operations deployment needs on a key's default value.
pub trait Registry {
    /// The key's default value; `None` when the key does not exist.
    fn get(&self, key: &RegistryKey) -> io::Result<Option<String>>;
    /// Creates the key if needed and sets its default value.
    fn set(&mut self, key: &RegistryKey, value: &str) -> io::Result<()>;
    /// Deletes the key; `false` when it was not there.
    fn delete(&mut self, key: &RegistryKey) -> io::Result<bool>;
}

/// An in-memory registry for tests.
#[derive(Debug, Default, Clone)]
pub struct MemoryRegistry {
    /// Every key that exists, with its default value.
    pub keys: BTreeMap<RegistryKey, String>,
}

impl Registry for MemoryRegistry {
    fn get(&self, key: &RegistryKey) -> io::Result<Option<String>> {
        Ok(self.keys.get(key).cloned())
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
    use super::{Registry, RegistryKey};
    use std::io;
    use winreg::enums::{
        HKEY_CURRENT_USER, HKEY_LOCAL_MACHINE, KEY_QUERY_VALUE, KEY_SET_VALUE, KEY_WOW64_32KEY,
        KEY_WOW64_64KEY,
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
    }
}
