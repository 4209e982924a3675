def main():
    print("enc")
