# Generates the legacy encrypted keyfile fixtures with Python's `cryptography`
# package (an implementation independent of the Go code under test):
#   ansible_vault.txt       ansible-vault 1.1 AES256 envelope, password "ansible-pw"
#   ansible_vault_weak.txt  the same with password "a" (fails btcli's rule for new keys)
#   fernet.txt              bittensor <= 6.x Fernet keyfile,  password "fernet-pw"
# All wrap mnemonic4.json. Run: python3 gen_legacy.py [FILE...] (from this folder);
# with no FILE it writes them all.
import base64, binascii, hashlib, hmac, os, sys
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

plain = open("mnemonic4.json", "rb").read().strip()

# ansible-vault 1.1 (ansible.parsing.vault.VaultAES256)
def ansible_vault(path, password):
    salt = os.urandom(32)
    keys = hashlib.pbkdf2_hmac("sha256", password, salt, 10000, 80)
    k1, k2, iv = keys[:32], keys[32:64], keys[64:80]
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plain) + padder.finalize()
    enc = Cipher(algorithms.AES(k1), modes.CTR(iv)).encryptor()
    ct = enc.update(padded) + enc.finalize()
    mac = hmac.new(k2, ct, hashlib.sha256).hexdigest().encode()
    body = binascii.hexlify(b"\n".join([binascii.hexlify(salt), mac, binascii.hexlify(ct)]))
    lines = [body[i:i + 80] for i in range(0, len(body), 80)]
    with open(path, "wb") as f:
        f.write(b"$ANSIBLE_VAULT;1.1;AES256\n" + b"\n".join(lines) + b"\n")

# bittensor/keyfile.py (v6.12.4) legacy_encrypt_keyfile_data
def fernet(path, password):
    salt = b"Iguesscyborgslikemyselfhaveatendencytobeparanoidaboutourorigins"
    key = base64.urlsafe_b64encode(hashlib.pbkdf2_hmac("sha256", password, salt, 10000000, 32))
    with open(path, "wb") as f:
        f.write(Fernet(key).encrypt(plain))

fixtures = {
    "ansible_vault.txt": lambda p: ansible_vault(p, b"ansible-pw"),
    "ansible_vault_weak.txt": lambda p: ansible_vault(p, b"a"),
    "fernet.txt": lambda p: fernet(p, b"fernet-pw"),
}
for name in sys.argv[1:] or fixtures:
    fixtures[name](name)
