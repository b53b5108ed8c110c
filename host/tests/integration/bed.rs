//! A whole test bed for one test: a private pcscd with two readers, a SoftHSM directory, a test
//! CA, and a host environment configured to use them.

use crate::util::{HostEnv, MANAGED_READER};
use cis_renew_testbed::{
    provision, CardSpec, Pcscd, ProvisionedCard, SoftHsm, TestCa, READERS, SOFTHSM_MODULE,
};
use serde_json::{json, Map, Value};

pub const SPONSOR_READER: &str = READERS[0];

pub struct Bed {
    pub pcscd: Pcscd,
    pub hsm: SoftHsm,
    pub ca: TestCa,
    pub env: HostEnv,
    slot_map: Map<String, Value>,
    extra_config: Map<String, Value>,
    _ca_dir: tempfile::TempDir,
}

impl Bed {
    /// Readers up, no cards in them, nothing provisioned.
    pub fn start() -> Bed {
        let pcscd = Pcscd::start().expect("pcscd with vpcd readers");
        let hsm = SoftHsm::new().expect("softhsm dir");
        let ca_dir = tempfile::tempdir().expect("ca dir");
        let ca = TestCa::create(ca_dir.path(), "cis-renew Test CA").expect("test CA");
        let mut env = HostEnv::with_defaults();
        env.set("PCSCLITE_CSOCK_NAME", pcscd.socket().to_string_lossy().as_ref());
        env.set("SOFTHSM2_CONF", hsm.conf().to_string_lossy().as_ref());
        let bed =
            Bed { pcscd, hsm, ca, env, slot_map: Map::new(), extra_config: Map::new(), _ca_dir: ca_dir };
        bed.write_config();
        bed
    }

    /// Provisions a token for `reader` with certificates expiring in the given days, binds it
    /// to the reader through `slotMap`, and inserts the card.
    pub fn card(&mut self, reader: &str, label: &str, auth_days: i64, sign_days: i64) -> ProvisionedCard {
        let card = self.provision_only(label, auth_days, sign_days);
        self.bind(reader, label);
        self.insert(reader);
        card
    }

    /// Provisions `spec` (another shape of card), binds it to `reader` and inserts it.
    pub fn card_spec(&mut self, reader: &str, spec: &CardSpec) -> ProvisionedCard {
        let card = provision(&self.hsm, &self.ca, spec).expect("provision card");
        self.bind(reader, &spec.token_label);
        self.insert(reader);
        card
    }

    pub fn provision_only(&self, label: &str, auth_days: i64, sign_days: i64) -> ProvisionedCard {
        provision(&self.hsm, &self.ca, &CardSpec::new(label, auth_days, sign_days)).expect("provision card")
    }

    pub fn bind(&mut self, reader: &str, label: &str) {
        self.slot_map.insert(reader.to_owned(), json!({"tokenLabel": label}));
        self.write_config();
    }

    /// Adds or replaces a top-level config key.
    pub fn config(&mut self, key: &str, value: Value) {
        self.extra_config.insert(key.to_owned(), value);
        self.write_config();
    }

    pub fn insert(&mut self, reader: &str) {
        self.pcscd.insert_card(reader_index(reader)).expect("insert card");
    }

    pub fn remove(&mut self, reader: &str) {
        self.pcscd.remove_card(reader_index(reader)).expect("remove card");
    }

    fn write_config(&self) {
        let mut config = Map::new();
        config.insert("pkcs11Module".into(), json!(SOFTHSM_MODULE));
        config.insert("slotMap".into(), Value::Object(self.slot_map.clone()));
        config.insert("logFile".into(), json!(self.env.log_path()));
        config.insert("logLevel".into(), json!("debug"));
        // Renewals need anchors (fail closed); tests of other CAs replace this key.
        config.insert("trustAnchors".into(), json!([self.ca.cert_pem_path()]));
        for (key, value) in &self.extra_config {
            config.insert(key.clone(), value.clone());
        }
        self.env.write_config(&Value::Object(config));
    }
}

pub fn reader_index(reader: &str) -> usize {
    READERS.iter().position(|r| *r == reader).unwrap_or_else(|| panic!("unknown reader {reader}"))
}

/// The managed reader's name, checked against the test bed's.
pub fn managed() -> &'static str {
    assert_eq!(READERS[1], MANAGED_READER);
    READERS[1]
}
