//! Backups encrypted with a passphrase, in the format of `age` (scrypt passphrase recipient,
//! ChaCha20-Poly1305), so a backup can be opened with the `age` tool too.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use age::secrecy::SecretString;
use anyhow::{bail, Context};

use crate::domain::backup::BackupKind;

/// Reads a passphrase from a file: its text without the final line break. An empty one is
/// refused.
pub fn read_passphrase(file: &Path) -> anyhow::Result<SecretString> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("reading the passphrase file {}", file.display()))?;
    let passphrase = text.trim_end_matches(['\r', '\n']);
    if passphrase.is_empty() {
        bail!("the passphrase file {} is empty", file.display());
    }
    Ok(SecretString::from(passphrase.to_string()))
}

/// Encrypts the file `plain` into `out` with `passphrase`, and waits for the disk.
pub fn encrypt_file(plain: &Path, out: &Path, passphrase: &SecretString) -> anyhow::Result<()> {
    let encryptor = age::Encryptor::with_user_passphrase(passphrase.clone());
    let file = private_file(out)?;
    let mut writer = encryptor
        .wrap_output(BufWriter::new(file))
        .with_context(|| format!("encrypting into {}", out.display()))?;
    let mut input = File::open(plain).with_context(|| format!("reading {}", plain.display()))?;
    std::io::copy(&mut input, &mut writer)
        .with_context(|| format!("encrypting into {}", out.display()))?;
    let mut buffered = writer
        .finish()
        .with_context(|| format!("encrypting into {}", out.display()))?;
    buffered.flush()?;
    let file = buffered
        .into_inner()
        .map_err(|e| e.into_error())
        .with_context(|| format!("writing {}", out.display()))?;
    file.sync_all()
        .with_context(|| format!("writing {}", out.display()))?;
    Ok(())
}

/// Decrypts the encrypted backup `file` into `out` with `passphrase`. A wrong passphrase
/// is told as such.
pub fn decrypt_file(file: &Path, out: &Path, passphrase: &SecretString) -> anyhow::Result<()> {
    let input = File::open(file).with_context(|| format!("reading {}", file.display()))?;
    let decryptor = age::Decryptor::new_buffered(BufReader::new(input))
        .with_context(|| format!("{} is not a readable encrypted backup", file.display()))?;
    if !decryptor.is_scrypt() {
        bail!(
            "{} is encrypted to a key, not with a passphrase: Steadfast cannot open it",
            file.display()
        );
    }
    let identity = age::scrypt::Identity::new(passphrase.clone());
    let mut reader = decryptor
        .decrypt(std::iter::once(&identity as &dyn age::Identity))
        .map_err(|e| match e {
            age::DecryptError::DecryptionFailed
            | age::DecryptError::KeyDecryptionFailed
            | age::DecryptError::NoMatchingKeys => anyhow::anyhow!(
                "the passphrase does not open {}: it is not the one the backup was \
                 encrypted with",
                file.display()
            ),
            other => anyhow::anyhow!("{} could not be decrypted: {other}", file.display()),
        })?;
    let mut output = BufWriter::new(private_file(out)?);
    std::io::copy(&mut reader, &mut output).with_context(|| {
        format!(
            "decrypting {} (the file is damaged or incomplete)",
            file.display()
        )
    })?;
    output.flush()?;
    Ok(())
}

/// An encrypted backup decrypted into a temporary file (readable by its owner only),
/// removed when dropped.
pub struct Decrypted {
    pub path: PathBuf,
    /// What the decrypted file holds.
    pub kind: BackupKind,
}

impl Decrypted {
    /// Decrypts `file` into a new file in the system's temporary folder.
    pub fn new(file: &Path, passphrase: &SecretString) -> anyhow::Result<Decrypted> {
        let path = std::env::temp_dir().join(format!(
            "steadfast-decrypted-{}",
            &crate::accounts::random_token()[..16]
        ));
        let mut decrypted = Decrypted {
            path,
            kind: BackupKind::Sqlite,
        };
        decrypt_file(file, &decrypted.path, passphrase)?;
        decrypted.kind = match super::backup_kind(&decrypted.path)? {
            BackupKind::Encrypted => bail!(
                "{} holds another encrypted file, not a Steadfast backup",
                file.display()
            ),
            kind => kind,
        };
        Ok(decrypted)
    }
}

impl Drop for Decrypted {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Creates (or empties) a file readable by its owner only.
fn private_file(path: &Path) -> anyhow::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))
}
