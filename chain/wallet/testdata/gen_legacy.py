# Generates the legacy encrypted keyfile fixtures with Python's `cryptography`
# package (an implementation independent of the Go code under test):
#   ansible_vault.txt  ansible-vault 1.1 AES256 envelope, password "ansible-pw"
#   fernet.txt         bittensor <= 6.x Fernet keyfile,  password "fernet-pw"
# Both wrap mnemonic4.json. Run: python3 gen_legacy.py (from this folder).
import base64, binascii, hashlib, hmac, os
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

plain = open("mnemonic4.json", "rb").read().strip()

# ansible-vault 1.1 (ansible.parsing.vault.VaultAES256)
salt = os.urandom(32)
keys = hashlib.pbkdf2_hmac("sha256", b"ansible-pw", salt, 10000, 80)
k1, k2, iv = keys[:32], keys[32:64], keys[64:80]
padder = padding.PKCS7(128).padder()
padded = padder.update(plain) + padder.finalize()
enc = Cipher(algorithms.AES(k1), modes.CTR(iv)).encryptor()
ct = enc.update(padded) + enc.finalize()
mac = hmac.new(k2, ct, hashlib.sha256).hexdigest().encode()
body = binascii.hexlify(b"\n".join([binascii.hexlify(salt), mac, binascii.hexlify(ct)]))
lines = [body[i:i + 80] for i in range(0, len(body), 80)]
with open("ansible_vault.txt", "wb") as f:
    f.write(b"$ANSIBLE_VAULT;1.1;AES256\n" + b"\n".join(lines) + b"\n")

# bittensor/keyfile.py (v6.12.4) legacy_encrypt_keyfile_data
salt = b"Iguesscyborgslikemyselfhaveatendencytobeparanoidaboutourorigins"
key = base64.urlsafe_b64encode(hashlib.pbkdf2_hmac("sha256", b"fernet-pw", salt, 10000000, 32))
with open("fernet.txt", "wb") as f:
    f.write(Fernet(key).encrypt(plain))
