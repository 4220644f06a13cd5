//! The store's contract, on every backend: the same tests through
//! `feedwatch::store::Store` on SQLite and on PostgreSQL.

use feedwatch::store::{Store, StoreError};

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
