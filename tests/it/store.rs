//! The store's contract, on every backend: the same tests through
//! `feedwatch::store::Store` on SQLite and on PostgreSQL.

use feedwatch::store::{Location, Store, StoreError};

use crate::common::Backend;

#[tokio::test]
async fn a_new_store_is_created_migrated_and_readable_on_every_backend() {
    for backend in Backend::ALL {
        let dir = tempfile::tempdir().unwrap();
        let location = backend.location(dir.path()).await;
        // Nothing migrated yet: a reader says so instead of reading.
        let missing = Store::open_read_only(&location).await.map(|_| ()).unwrap_err();
        assert!(
            matches!(missing, StoreError::Missing { .. }),
            "{backend:?}: {missing}"
        );
        // Two writers (here two threads, as two processes would) opening
        // at once take turns migrating.
        let open = |location: feedwatch::store::Location| {
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async {
                    let store = Store::open(location).await?;
                    store.close().await;
                    Ok::<_, StoreError>(())
                })
            })
        };
        let (a, b) = (open(location.clone()), open(location.clone()));
        for opened in [a, b] {
            if let Err(error) = opened.join().unwrap() {
                panic!("{backend:?}: a writer opening beside another failed: {error:?}");
            }
        }
        let a = Store::open(&location).await.unwrap();
        assert_eq!(a.item_count().await.unwrap(), 0, "{backend:?}");
        let reader = Store::open_read_only(&location).await.unwrap();
        assert_eq!(reader.item_count().await.unwrap(), 0, "{backend:?}");
        for store in [a, reader] {
            store.close().await;
        }
    }
}

/// PostgreSQL over TLS: a server that admits the role only over TLS is
/// reached with `sslmode=require` and with `verify-full` against its
/// certificate, in both spellings of `[store] url`; `sslmode=disable` is
/// refused with a sentence naming the store, and `verify-full` against
/// another authority too (the certificate is checked, not just used).
#[tokio::test]
async fn postgres_over_tls_encrypts_and_checks_the_certificate() {
    let (url, certificate) = match crate::common::pg::tls_database().await {
        Ok(database) => database,
        Err(why) if std::env::var_os("FEEDWATCH_TEST_POSTGRES").is_some() => {
            eprintln!("skipped: {why}");
            return;
        }
        Err(why) => panic!("{why}"),
    };
    let certificate = certificate.display().to_string();
    let (host_port, db) = url
        .trim_start_matches("postgres://fw_tls@")
        .split_once('/')
        .unwrap();
    let (host, port) = host_port.split_once(':').unwrap();
    let accepted = [
        format!("{url}?sslmode=require"),
        format!("{url}?sslmode=verify-full&sslrootcert={certificate}"),
        format!(
            "host={host} port={port} dbname={db} user=fw_tls sslmode=verify-ca sslrootcert='{certificate}'"
        ),
    ];
    for spec in &accepted {
        let location = Location::from_url(spec).unwrap();
        let store = Store::open(&location)
            .await
            .unwrap_or_else(|e| panic!("{spec}: {}", feedwatch::error_chain(&e)));
        assert_eq!(store.item_count().await.unwrap(), 0, "{spec}");
        store.close().await;
    }
    let refused = format!("{url}?sslmode=disable");
    let error = Store::open(&Location::from_url(&refused).unwrap())
        .await
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(error.contains(&format!("127.0.0.1:{port}")), "{error}");
    assert!(!error.contains('\n'), "one sentence: {error}");
    // Another authority: the server's certificate does not chain to it.
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other.crt");
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
        ])
        .arg("-keyout")
        .arg(dir.path().join("other.key"))
        .arg("-out")
        .arg(&other)
        .output()
        .unwrap();
    assert!(made.status.success());
    let untrusted = format!("{url}?sslmode=verify-full&sslrootcert={}", other.display());
    assert!(
        Store::open(&Location::from_url(&untrusted).unwrap())
            .await
            .is_err(),
        "a certificate of another authority is refused"
    );
}
