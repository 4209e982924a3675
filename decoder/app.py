def main():
    print("dec")
