print("finflow")
